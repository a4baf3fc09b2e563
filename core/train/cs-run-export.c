/* What leaves a run: its history as CSV (runs export --csv, the app's Export)
 * and its weights as a checkpoint with the run's settings in the metadata. */

#include "config.h"

#include <string.h>

#include "base/cs-alloc.h"
#include "formats/cs-checkpoint.h"
#include "train/cs-run-private.h"

const char *
cs_run_csv_header (void)
{
  return "run_id,name,model,dataset,optimizer,lr,momentum,weight_decay,batch_size,seed,state,epoch,"
         "train_loss,train_acc,test_loss,test_acc,seconds,samples_per_sec,"
         "class_acc_0,class_acc_1,class_acc_2,class_acc_3,class_acc_4,"
         "class_acc_5,class_acc_6,class_acc_7,class_acc_8,class_acc_9";
}

static void
csv_field (GString    *out,
           const char *s)
{
  if (s == NULL)
    s = "";
  if (strpbrk (s, ",\"\n\r") == NULL)
    {
      g_string_append (out, s);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = s; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

void
cs_run_append_csv (CsRun   *self,
                   GString *out)
{
  g_return_if_fail (CS_IS_RUN (self));
  g_return_if_fail (out != NULL);

  const CsRunRecord *r = self->record;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i < r->epochs->len; i++)
    {
      const CsEpochResult *e = &g_array_index (r->epochs, CsEpochResult, i);

      csv_field (out, r->id); g_string_append_c (out, ',');
      csv_field (out, r->name); g_string_append_c (out, ',');
      csv_field (out, r->model); g_string_append_c (out, ',');
      csv_field (out, r->dataset); g_string_append_c (out, ',');
      g_string_append_printf (out, "%s,", cs_optim_kind_name (r->hp.optim.kind));
      g_string_append_printf (out, "%s,", g_ascii_dtostr (buf, sizeof buf, r->hp.optim.lr));
      g_string_append_printf (out, "%s,", g_ascii_dtostr (buf, sizeof buf, r->hp.optim.momentum));
      g_string_append_printf (out, "%s,", g_ascii_dtostr (buf, sizeof buf, r->hp.optim.weight_decay));
      g_string_append_printf (out, "%d,%" G_GUINT64_FORMAT ",%s,%d,", r->hp.batch_size, r->hp.seed,
                              cs_run_state_to_string (r->state), e->epoch + 1);
      g_string_append_printf (out, "%.6f,%.4f,%.6f,%.4f,%.3f,%.1f", e->train_loss, e->train_acc,
                              e->test_loss, e->test_acc, e->seconds, e->samples_per_sec);
      for (int c = 0; c < CS_N_CLASSES; c++)
        g_string_append_printf (out, ",%.4f", e->class_acc[c]);
      g_string_append_c (out, '\n');
    }
}

char *
cs_runs_to_csv (CsRun * const *runs,
                guint          n_runs,
                gsize         *len)
{
  GString *out = g_string_new (cs_run_csv_header ());

  g_string_append_c (out, '\n');
  for (guint i = 0; i < n_runs; i++)
    {
      g_return_val_if_fail (CS_IS_RUN (runs[i]), g_string_free (out, TRUE));
      cs_run_append_csv (runs[i], out);
    }
  if (len != NULL)
    *len = out->len;
  return g_string_free (out, FALSE);
}

/* ---- checkpoints ---------------------------------------------------------- */

GHashTable *
cs_run_record_checkpoint_metadata (const CsRunRecord *r,
                                   const CsSpec      *spec)
{
  GHashTable *meta = cs_checkpoint_metadata_new (spec, r->model);
  const CsHyperParams *hp = &r->hp;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_hash_table_insert (meta, (char *) "run_id", g_strdup (r->id));
  g_hash_table_insert (meta, (char *) "dataset", g_strdup (r->dataset));
  g_hash_table_insert (meta, (char *) "optimizer", g_strdup (cs_optim_kind_name (hp->optim.kind)));
  g_hash_table_insert (meta, (char *) "lr", g_strdup (g_ascii_dtostr (buf, sizeof buf, hp->optim.lr)));
  g_hash_table_insert (meta, (char *) "momentum", g_strdup (g_ascii_dtostr (buf, sizeof buf, hp->optim.momentum)));
  g_hash_table_insert (meta, (char *) "weight_decay", g_strdup (g_ascii_dtostr (buf, sizeof buf, hp->optim.weight_decay)));
  g_hash_table_insert (meta, (char *) "batch_size", g_strdup_printf ("%d", hp->batch_size));
  g_hash_table_insert (meta, (char *) "seed", g_strdup_printf ("%" G_GUINT64_FORMAT, hp->seed));
  g_hash_table_insert (meta, (char *) "epoch", g_strdup_printf ("%u", r->epochs->len));
  if (r->epochs->len > 0)
    g_hash_table_insert (meta, (char *) "test_accuracy",
                         g_strdup_printf ("%.2f", g_array_index (r->epochs, CsEpochResult, r->epochs->len - 1).test_acc));
  return meta;
}

GHashTable *
cs_run_checkpoint_metadata (CsRun *self)
{
  g_return_val_if_fail (CS_IS_RUN (self), NULL);

  return cs_run_record_checkpoint_metadata (self->record, self->spec);
}

gboolean
cs_run_save_weights (CsRun         *self,
                     const char    *path,
                     CsWriteFlags   flags,
                     GError       **error)
{
  g_autoptr(CsModel) model = NULL;
  g_autoptr(GHashTable) meta = NULL;

  g_return_val_if_fail (CS_IS_RUN (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  model = cs_model_new (self->spec);
  /* The newest weights: a live run's snapshot, else its last checkpoint. */
  if (self->snapshot != NULL && self->snapshot->n_params == cs_model_n_values (model))
    memcpy (cs_model_params (model), self->snapshot->params, self->snapshot->n_params * sizeof (float));
  else
    {
      g_autofree char *ckpt = cs_run_get_checkpoint_path (self);
      g_autoptr(CsCheckpoint) c = cs_checkpoint_load (ckpt, error);

      if (c == NULL || !cs_checkpoint_apply (c, model, error))
        return FALSE;
    }
  meta = cs_run_checkpoint_metadata (self);
  return cs_checkpoint_save_full (path, model, NULL, meta, flags, error);
}
