/* A run's history as CSV, one row per epoch (runs export --csv, the app's Export). */

#include "config.h"

#include <string.h>

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
                              cs_run_state_to_string (r->state), e->epoch);
      g_string_append_printf (out, "%.6f,%.4f,%.6f,%.4f,%.3f,%.1f", e->train_loss, e->train_acc,
                              e->test_loss, e->test_acc, e->seconds, e->samples_per_sec);
      for (int c = 0; c < CS_N_CLASSES; c++)
        g_string_append_printf (out, ",%.4f", e->class_acc[c]);
      g_string_append_c (out, '\n');
    }
}
