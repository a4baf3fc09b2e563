/* The run record: what run.json holds, written and read back strictly. */

#define G_LOG_DOMAIN "cs-run"

#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "base/cs-file.h"
#include "formats/cs-checkpoint.h"
#include "base/cs-json-writer.h"
#include "train/cs-run-private.h"

#define MAX_LOSS_POINTS     4096
#define RUN_FORMAT          "convscope-run"


static const char * const state_names[] = {
  "queued", "running", "paused", "finished", "stopped", "failed",
};

const char *
cs_run_state_to_string (CsRunState state)
{
  g_return_val_if_fail (state <= CS_RUN_FAILED, "unknown");
  return state_names[state];
}

static gboolean
state_from_string (const char *s,
                   CsRunState *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (s, state_names[i]) == 0)
      {
        *state = i;
        return TRUE;
      }
  return FALSE;
}

gboolean
cs_run_state_is_live (CsRunState state)
{
  return state == CS_RUN_QUEUED || state == CS_RUN_RUNNING || state == CS_RUN_PAUSED;
}

void
cs_run_record_free (CsRunRecord *r)
{
  if (r == NULL)
    return;
  g_free (r->id);
  g_free (r->name);
  g_free (r->model);
  g_free (r->spec_text);
  g_free (r->dataset);
  g_free (r->data_dir);
  g_free (r->message);
  g_clear_pointer (&r->epochs, g_array_unref);
  g_clear_pointer (&r->loss, g_array_unref);
  g_free (r);
}

CsRunRecord *
cs_run_record_new (void)
{
  CsRunRecord *r = g_new0 (CsRunRecord, 1);
  r->epochs = g_array_new (FALSE, TRUE, sizeof (CsEpochResult));
  r->loss = g_array_new (FALSE, TRUE, sizeof (CsLossPoint));
  r->loss_stride = 1;
  return r;
}

CsRunRecord *
cs_run_record_copy (const CsRunRecord *src)
{
  CsRunRecord *r = g_new0 (CsRunRecord, 1);

  *r = *src;
  r->id = g_strdup (src->id);
  r->name = g_strdup (src->name);
  r->model = g_strdup (src->model);
  r->spec_text = g_strdup (src->spec_text);
  r->dataset = g_strdup (src->dataset);
  r->data_dir = g_strdup (src->data_dir);
  r->message = g_strdup (src->message);
  r->epochs = g_array_copy (src->epochs);
  r->loss = g_array_copy (src->loss);
  return r;
}

/* Appends one batch's loss; past MAX_LOSS_POINTS, neighbours are merged and
 * the stride doubles, so a long run keeps its whole curve at lower resolution. */
void
cs_run_record_add_loss (CsRunRecord *r,
                        double       step,
                        double       loss)
{
  r->loss_acc += loss;
  r->loss_acc_n++;
  if (r->loss_acc_n < r->loss_stride)
    return;

  {
    CsLossPoint p = { step, (float) (r->loss_acc / r->loss_acc_n) };
    g_array_append_val (r->loss, p);
  }
  r->loss_acc = 0;
  r->loss_acc_n = 0;

  if (r->loss->len >= MAX_LOSS_POINTS)
    {
      guint half = r->loss->len / 2;
      CsLossPoint *pts = (CsLossPoint *) r->loss->data;

      for (guint i = 0; i < half; i++)
        {
          pts[i].step = pts[2 * i + 1].step;
          pts[i].loss = (pts[2 * i].loss + pts[2 * i + 1].loss) / 2;
        }
      g_array_set_size (r->loss, half);
      r->loss_stride *= 2;
    }
}

char *
cs_run_record_to_json (const CsRunRecord *r)
{
  CsJsonWriter w;

  cs_json_writer_init (&w);

  cs_json_writer_open (&w, '{', TRUE);
  cs_json_writer_str (&w, "format", RUN_FORMAT);
  cs_json_writer_int (&w, "version", 1);
  cs_json_writer_str (&w, "convscope", PACKAGE_VERSION);
  cs_json_writer_str (&w, "id", r->id);
  cs_json_writer_str (&w, "name", r->name);
  cs_json_writer_str (&w, "model", r->model);
  cs_json_writer_str (&w, "spec", r->spec_text);
  cs_json_writer_str (&w, "dataset", r->dataset);
  cs_json_writer_str (&w, "data_dir", r->data_dir);
  cs_json_writer_key (&w, "hyperparameters");
  cs_json_writer_open (&w, '{', TRUE);
  cs_json_writer_str (&w, "optimizer", cs_optim_kind_name (r->hp.optim.kind));
  cs_json_writer_num (&w, "lr", r->hp.optim.lr);
  cs_json_writer_num (&w, "momentum", r->hp.optim.momentum);
  cs_json_writer_num (&w, "weight_decay", r->hp.optim.weight_decay);
  cs_json_writer_num (&w, "beta1", r->hp.optim.beta1);
  cs_json_writer_num (&w, "beta2", r->hp.optim.beta2);
  cs_json_writer_num (&w, "eps", r->hp.optim.eps);
  cs_json_writer_int (&w, "epochs", r->hp.epochs);
  cs_json_writer_int (&w, "batch_size", r->hp.batch_size);
  cs_json_writer_int (&w, "threads", r->hp.threads);
  cs_json_writer_int (&w, "seed", (gint64) r->hp.seed);
  cs_json_writer_close (&w, '}');
  cs_json_writer_str (&w, "state", cs_run_state_to_string (r->state));
  cs_json_writer_str (&w, "message", r->message);
  cs_json_writer_int (&w, "created", r->created);
  cs_json_writer_int (&w, "started", r->started);
  cs_json_writer_int (&w, "ended", r->ended);
  cs_json_writer_num (&w, "train_seconds", r->train_seconds);
  cs_json_writer_int (&w, "n_params", (gint64) r->n_params);
  cs_json_writer_int (&w, "at_epoch", r->at_epoch);
  cs_json_writer_int (&w, "at_batch", r->at_batch);

  cs_json_writer_key (&w, "epochs");
  cs_json_writer_open (&w, '[', TRUE);
  for (guint i = 0; i < r->epochs->len; i++)
    {
      const CsEpochResult *e = &g_array_index (r->epochs, CsEpochResult, i);

      cs_json_writer_open (&w, '{', FALSE);
      cs_json_writer_int (&w, "epoch", e->epoch);
      cs_json_writer_num (&w, "train_loss", e->train_loss);
      cs_json_writer_num (&w, "train_acc", e->train_acc);
      cs_json_writer_num (&w, "test_loss", e->test_loss);
      cs_json_writer_num (&w, "test_acc", e->test_acc);
      cs_json_writer_num (&w, "seconds", e->seconds);
      cs_json_writer_num (&w, "samples_per_sec", e->samples_per_sec);
      cs_json_writer_inline_begin (&w, "class_acc");
      for (int c = 0; c < CS_N_CLASSES; c++)
        cs_json_writer_inline_num (&w, e->class_acc[c]);
      cs_json_writer_inline_end (&w);
      cs_json_writer_key (&w, "confusion");
      cs_json_writer_open (&w, '[', TRUE);
      for (int t = 0; t < CS_N_CLASSES; t++)
        {
          cs_json_writer_inline_begin (&w, NULL);
          for (int p = 0; p < CS_N_CLASSES; p++)
            cs_json_writer_inline_num (&w, e->confusion[t][p]);
          cs_json_writer_inline_end (&w);
        }
      cs_json_writer_close (&w, ']');
      cs_json_writer_close (&w, '}');
    }
  cs_json_writer_close (&w, ']');

  cs_json_writer_key (&w, "loss");
  cs_json_writer_open (&w, '{', TRUE);
  cs_json_writer_int (&w, "stride", r->loss_stride);
  cs_json_writer_key (&w, "points");
  cs_json_writer_open (&w, '[', TRUE);
  for (guint i = 0; i < r->loss->len; i++)
    {
      const CsLossPoint *p = &g_array_index (r->loss, CsLossPoint, i);
      cs_json_writer_inline_begin (&w, NULL);
      cs_json_writer_inline_num (&w, p->step);
      cs_json_writer_inline_num (&w, p->loss);
      cs_json_writer_inline_end (&w);
    }
  cs_json_writer_close (&w, ']');
  cs_json_writer_close (&w, '}');
  cs_json_writer_close (&w, '}');
  return cs_json_writer_finish (&w);
}

/* Typed member access that records the first problem. */
typedef struct
{
  const char *path;
  GError    **error;
  gboolean    failed;
} Reader;

static JsonNode *
member (Reader      *rd,
        JsonObject  *obj,
        const char  *name,
        JsonNodeType type,
        gboolean     required)
{
  JsonNode *node;

  if (rd->failed)
    return NULL;
  node = obj ? json_object_get_member (obj, name) : NULL;
  if (node == NULL || (JSON_NODE_HOLDS_NULL (node) && type != JSON_NODE_NULL))
    {
      if (required)
        {
          g_set_error (rd->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s: not a valid run record (\"%s\" is missing)", rd->path, name);
          rd->failed = TRUE;
        }
      return NULL;
    }
  if (JSON_NODE_TYPE (node) != type)
    {
      g_set_error (rd->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a valid run record (\"%s\" has the wrong type)", rd->path, name);
      rd->failed = TRUE;
      return NULL;
    }
  return node;
}

static const char *
get_str (Reader *rd, JsonObject *o, const char *name, gboolean required)
{
  JsonNode *n = member (rd, o, name, JSON_NODE_VALUE, required);
  if (n == NULL)
    return NULL;
  if (json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (rd->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a valid run record (\"%s\" should be text)", rd->path, name);
      rd->failed = TRUE;
      return NULL;
    }
  return json_node_get_string (n);
}

static double
get_num (Reader *rd, JsonObject *o, const char *name, double def)
{
  JsonNode *n = member (rd, o, name, JSON_NODE_VALUE, FALSE);
  GType t;

  if (n == NULL)
    return def;
  t = json_node_get_value_type (n);
  if (t == G_TYPE_INT64)
    return (double) json_node_get_int (n);
  if (t == G_TYPE_DOUBLE)
    return json_node_get_double (n);
  g_set_error (rd->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s: not a valid run record (\"%s\" should be a number)", rd->path, name);
  rd->failed = TRUE;
  return def;
}

/* A whole number in [min, max]: a cast of anything else would be undefined. */
static gint64
get_int (Reader     *rd,
         JsonObject *o,
         const char *name,
         gint64      def,
         gint64      min,
         gint64      max)
{
  double v = get_num (rd, o, name, (double) def);

  if (rd->failed)
    return def;
  if (!(v >= (double) min && v <= (double) max) || v != floor (v))
    {
      g_set_error (rd->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a valid run record (\"%s\" should be a whole number from %" G_GINT64_FORMAT " to %"
                   G_GINT64_FORMAT ")", rd->path, name, min, max);
      rd->failed = TRUE;
      return def;
    }
  return (gint64) v;
}

/* Element @i of @arr as a number; @what names the array in the message. */
static double
element_num (Reader     *rd,
             JsonArray  *arr,
             guint       i,
             const char *what)
{
  JsonNode *n = json_array_get_element (arr, i);

  if (rd->failed)
    return 0;
  if (JSON_NODE_HOLDS_VALUE (n) &&
      (json_node_get_value_type (n) == G_TYPE_INT64 || json_node_get_value_type (n) == G_TYPE_DOUBLE))
    return json_node_get_double (n);
  g_set_error (rd->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s: not a valid run record (item %u of \"%s\" should be a number)", rd->path, i, what);
  rd->failed = TRUE;
  return 0;
}

CsRunRecord *
cs_run_record_from_json (const char *text,
                         gsize       len,
                         const char *path,
                         GError    **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(CsRunRecord) r = cs_run_record_new ();
  g_autoptr(GError) local_error = NULL;
  Reader rd = { path, error, FALSE };
  JsonObject *root, *hp;
  JsonNode *node;
  const char *s;

  /* Strict and shallow first: json-glib recurses as deep as the file nests. */
  {
    g_autofree char *what = g_strdup_printf ("%s: not valid JSON", path);
    if (!cs_json_check_strict (text, len, 8, what, &local_error))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s", local_error->message);
        return NULL;
      }
  }
  if (!json_parser_load_from_data (parser, text, len, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not valid JSON: %s", path, local_error->message);
      return NULL;
    }
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a run record (no JSON object)", path);
      return NULL;
    }
  root = json_node_get_object (node);
  if (g_strcmp0 (get_str (&rd, root, "format", TRUE), RUN_FORMAT) != 0)
    {
      if (!rd.failed)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a Convscope run record", path);
      return NULL;
    }

  r->id = g_strdup (get_str (&rd, root, "id", TRUE));
  r->name = g_strdup (get_str (&rd, root, "name", TRUE));
  r->model = g_strdup (get_str (&rd, root, "model", TRUE));
  r->spec_text = g_strdup (get_str (&rd, root, "spec", TRUE));
  r->dataset = g_strdup (get_str (&rd, root, "dataset", TRUE));
  r->data_dir = g_strdup (get_str (&rd, root, "data_dir", FALSE));
  r->message = g_strdup (get_str (&rd, root, "message", FALSE));
  s = get_str (&rd, root, "state", TRUE);
  if (rd.failed)
    return NULL;
  if (!state_from_string (s, &r->state))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: unknown run state \"%s\"", path, s);
      return NULL;
    }
  r->created = get_int (&rd, root, "created", 0, 0, G_MAXINT64 / 2);
  r->started = get_int (&rd, root, "started", 0, 0, G_MAXINT64 / 2);
  r->ended = get_int (&rd, root, "ended", 0, 0, G_MAXINT64 / 2);
  r->train_seconds = get_num (&rd, root, "train_seconds", 0);
  r->n_params = (gsize) get_int (&rd, root, "n_params", 0, 0, G_MAXINT64 / 2);
  r->at_epoch = (int) get_int (&rd, root, "at_epoch", 0, 0, G_MAXINT);
  r->at_batch = (int) get_int (&rd, root, "at_batch", 0, 0, G_MAXINT);

  node = member (&rd, root, "hyperparameters", JSON_NODE_OBJECT, TRUE);
  if (node == NULL)
    return NULL;
  hp = json_node_get_object (node);
  s = get_str (&rd, hp, "optimizer", TRUE);
  if (rd.failed)
    return NULL;
  cs_optim_config_defaults (&r->hp.optim, g_strcmp0 (s, "adam") == 0 ? CS_OPTIM_ADAM : CS_OPTIM_SGD);
  r->hp.optim.lr = get_num (&rd, hp, "lr", r->hp.optim.lr);
  r->hp.optim.momentum = get_num (&rd, hp, "momentum", 0);
  r->hp.optim.weight_decay = get_num (&rd, hp, "weight_decay", 0);
  r->hp.optim.beta1 = get_num (&rd, hp, "beta1", 0.9);
  r->hp.optim.beta2 = get_num (&rd, hp, "beta2", 0.999);
  r->hp.optim.eps = get_num (&rd, hp, "eps", 1e-8);
  r->hp.epochs = (int) get_int (&rd, hp, "epochs", 5, 0, G_MAXINT);
  r->hp.batch_size = (int) get_int (&rd, hp, "batch_size", 100, 1, G_MAXINT);
  r->hp.threads = (int) get_int (&rd, hp, "threads", 1, 1, 4096);
  r->hp.seed = (guint64) get_int (&rd, hp, "seed", 1, 0, G_MAXINT64 / 2);

  node = member (&rd, root, "epochs", JSON_NODE_ARRAY, FALSE);
  if (node != NULL)
    {
      JsonArray *arr = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (arr) && !rd.failed; i++)
        {
          JsonNode *en = json_array_get_element (arr, i);
          JsonObject *eo;
          CsEpochResult e = { 0 };

          if (!JSON_NODE_HOLDS_OBJECT (en))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: epoch %u is not an object", path, i);
              return NULL;
            }
          eo = json_node_get_object (en);
          e.epoch = (int) get_int (&rd, eo, "epoch", i, 0, G_MAXINT);
          e.train_loss = get_num (&rd, eo, "train_loss", NAN);
          e.train_acc = get_num (&rd, eo, "train_acc", NAN);
          e.test_loss = get_num (&rd, eo, "test_loss", NAN);
          e.test_acc = get_num (&rd, eo, "test_acc", NAN);
          e.seconds = get_num (&rd, eo, "seconds", 0);
          e.samples_per_sec = get_num (&rd, eo, "samples_per_sec", 0);
          if ((node = member (&rd, eo, "class_acc", JSON_NODE_ARRAY, FALSE)) != NULL)
            {
              JsonArray *ca = json_node_get_array (node);
              for (guint c = 0; c < MIN (CS_N_CLASSES, json_array_get_length (ca)); c++)
                e.class_acc[c] = element_num (&rd, ca, c, "class_acc");
            }
          if ((node = member (&rd, eo, "confusion", JSON_NODE_ARRAY, FALSE)) != NULL)
            {
              JsonArray *rows = json_node_get_array (node);
              for (guint t = 0; t < MIN (CS_N_CLASSES, json_array_get_length (rows)); t++)
                {
                  JsonNode *rn = json_array_get_element (rows, t);
                  JsonArray *row;
                  if (!JSON_NODE_HOLDS_ARRAY (rn))
                    {
                      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                   "%s: row %u of epoch %u's confusion matrix is not an array", path, t, i);
                      return NULL;
                    }
                  row = json_node_get_array (rn);
                  for (guint p = 0; p < MIN (CS_N_CLASSES, json_array_get_length (row)); p++)
                    {
                      double v = element_num (&rd, row, p, "confusion");
                      if (!rd.failed && !(v >= 0 && v <= G_MAXUINT32))
                        {
                          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                       "%s: epoch %u's confusion matrix holds %g, not a count", path, i, v);
                          return NULL;
                        }
                      e.confusion[t][p] = (guint) v;
                    }
                }
            }
          g_array_append_val (r->epochs, e);
        }
    }

  node = member (&rd, root, "loss", JSON_NODE_OBJECT, FALSE);
  if (node != NULL)
    {
      JsonObject *lo = json_node_get_object (node);
      JsonArray *pts;

      r->loss_stride = (guint) get_int (&rd, lo, "stride", 1, 1, G_MAXUINT32);
      node = member (&rd, lo, "points", JSON_NODE_ARRAY, FALSE);
      pts = node ? json_node_get_array (node) : NULL;
      for (guint i = 0; pts && i < json_array_get_length (pts); i++)
        {
          JsonNode *pn = json_array_get_element (pts, i);
          JsonArray *pa;
          CsLossPoint p;

          if (!JSON_NODE_HOLDS_ARRAY (pn) || json_array_get_length (pa = json_node_get_array (pn)) != 2)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: loss point %u is not [step, loss]", path, i);
              return NULL;
            }
          p.step = element_num (&rd, pa, 0, "loss points");
          p.loss = (float) element_num (&rd, pa, 1, "loss points");
          if (rd.failed)
            return NULL;
          g_array_append_val (r->loss, p);
        }
    }
  if (rd.failed)
    return NULL;
  return g_steal_pointer (&r);
}

gboolean
cs_run_record_check (const char *text,
                     gsize       len,
                     const char *path,
                     GError    **error)
{
  g_autoptr(CsRunRecord) r = NULL;
  g_autoptr(CsSpec) spec = NULL;

  g_return_val_if_fail (text != NULL, FALSE);

  r = cs_run_record_from_json (text, len, path, error);
  if (r == NULL)
    return FALSE;
  spec = cs_spec_parse (r->spec_text, error);
  return spec != NULL;
}


gboolean
cs_run_record_write (const CsRunRecord *r,
                     const char        *dir,
                     GError           **error)
{
  g_autofree char *json = cs_run_record_to_json (r);
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);

  return cs_write_file_atomic (path, json, strlen (json), error);
}
