/* Runs: a record kept as run.json, a GObject for the UI, and a worker thread that trains and reports back. */

#define G_LOG_DOMAIN "cs-run"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "formats/cs-checkpoint.h"
#include "nn/cs-gemm.h"
#include "spec/cs-presets.h"
#include "base/cs-file.h"
#include "train/cs-run-private.h"
#include "train/cs-run.h"
#include "base/cs-sync.h"

#define MAX_LOSS_POINTS     4096
#define PROGRESS_INTERVAL   (G_USEC_PER_SEC / 30)
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

/* ---- snapshots ---------------------------------------------------------- */

CsSnapshot *
cs_snapshot_ref (CsSnapshot *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
cs_snapshot_unref (CsSnapshot *self)
{
  if (self == NULL || !cs_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; i < self->n_layers; i++)
    cs_free_floats (self->activations[i]);
  g_free (self->activations);
  cs_free_floats (self->params);
  cs_free_floats (self->probe);
  g_free (self);
}

/* ---- the record: what run.json holds ------------------------------------ */

typedef struct
{
  char          *id;
  char          *name;
  char          *model;
  char          *spec_text;
  char          *dataset;
  char          *data_dir;
  CsHyperParams  hp;
  CsRunState     state;
  char          *message;
  gint64         created;        /* unix seconds */
  gint64         started;
  gint64         ended;
  double         train_seconds;
  gsize          n_params;
  GArray        *epochs;         /* of CsEpochResult */
  GArray        *loss;           /* of CsLossPoint */
  guint          loss_stride;
  double         loss_acc;
  guint          loss_acc_n;
  int            at_epoch;       /* where a stopped run stopped */
  int            at_batch;
} RunRecord;

static void
record_free (RunRecord *r)
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RunRecord, record_free)

static RunRecord *
record_new (void)
{
  RunRecord *r = g_new0 (RunRecord, 1);
  r->epochs = g_array_new (FALSE, TRUE, sizeof (CsEpochResult));
  r->loss = g_array_new (FALSE, TRUE, sizeof (CsLossPoint));
  r->loss_stride = 1;
  return r;
}

static RunRecord *
record_copy (const RunRecord *src)
{
  RunRecord *r = g_new0 (RunRecord, 1);

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
static void
record_add_loss (RunRecord *r,
                 double     step,
                 double     loss)
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

/*
 * A small JSON writer for run.json. json-glib 1.6 (Debian 12) prints doubles
 * such as 1e-08 as "1e-08.0", which is not JSON, so numbers are formatted here.
 */
typedef struct
{
  GString *s;
  int      depth;
  gboolean need_comma;
  gboolean inline_array;
} JsonW;

static void
jw_newline (JsonW *w)
{
  if (w->inline_array)
    {
      if (w->need_comma)
        g_string_append (w->s, ", ");
      return;
    }
  if (w->need_comma)
    g_string_append_c (w->s, ',');
  if (w->depth > 0 || w->s->len > 0)
    g_string_append_c (w->s, '\n');
  for (int i = 0; i < w->depth; i++)
    g_string_append (w->s, "  ");
}

static void
jw_string_raw (JsonW      *w,
               const char *str)
{
  g_string_append_c (w->s, '"');
  for (const char *p = str; *p; p++)
    {
      guchar c = (guchar) *p;
      switch (c)
        {
        case '"': g_string_append (w->s, "\\\""); break;
        case '\\': g_string_append (w->s, "\\\\"); break;
        case '\n': g_string_append (w->s, "\\n"); break;
        case '\r': g_string_append (w->s, "\\r"); break;
        case '\t': g_string_append (w->s, "\\t"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (w->s, "\\u%04x", c);
          else
            g_string_append_c (w->s, (char) c);
        }
    }
  g_string_append_c (w->s, '"');
}

static void
jw_key (JsonW      *w,
        const char *key)
{
  jw_newline (w);
  jw_string_raw (w, key);
  g_string_append (w->s, ": ");
  w->need_comma = FALSE;
}

static void
jw_value_prefix (JsonW *w,
                 gboolean after_key)
{
  if (!after_key)
    jw_newline (w);
}

static void
jw_open (JsonW   *w,
         char     c,
         gboolean after_key)
{
  jw_value_prefix (w, after_key);
  g_string_append_c (w->s, c);
  w->depth++;
  w->need_comma = FALSE;
}

static void
jw_close (JsonW *w,
          char   c)
{
  w->depth--;
  if (!w->inline_array)
    {
      g_string_append_c (w->s, '\n');
      for (int i = 0; i < w->depth; i++)
        g_string_append (w->s, "  ");
    }
  g_string_append_c (w->s, c);
  w->need_comma = TRUE;
}

static void
jw_str (JsonW *w, const char *key, const char *v)
{
  jw_key (w, key);
  if (v == NULL)
    g_string_append (w->s, "null");
  else
    jw_string_raw (w, v);
  w->need_comma = TRUE;
}

static void
jw_num_raw (JsonW *w, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    g_string_append (w->s, "null");
  else
    g_string_append (w->s, g_ascii_formatd (buf, sizeof buf, "%.17g", v));
  w->need_comma = TRUE;
}

static void
jw_num (JsonW *w, const char *key, double v)
{
  jw_key (w, key);
  jw_num_raw (w, v);
}

static void
jw_int (JsonW *w, const char *key, gint64 v)
{
  jw_key (w, key);
  g_string_append_printf (w->s, "%" G_GINT64_FORMAT, v);
  w->need_comma = TRUE;
}

/* [a, b, c] on one line */
static void
jw_inline_begin (JsonW *w, const char *key)
{
  if (key)
    jw_key (w, key);
  else
    jw_newline (w);
  g_string_append_c (w->s, '[');
  w->inline_array = TRUE;
  w->need_comma = FALSE;
}

static void
jw_inline_num (JsonW *w, double v)
{
  if (w->need_comma)
    g_string_append (w->s, ", ");
  jw_num_raw (w, v);
}

static void
jw_inline_end (JsonW *w)
{
  g_string_append_c (w->s, ']');
  w->inline_array = FALSE;
  w->need_comma = TRUE;
}

static char *
record_to_json (const RunRecord *r)
{
  JsonW w = { g_string_new (NULL), 0, FALSE, FALSE };

  jw_open (&w, '{', TRUE);
  jw_str (&w, "format", RUN_FORMAT);
  jw_int (&w, "version", 1);
  jw_str (&w, "convscope", PACKAGE_VERSION);
  jw_str (&w, "id", r->id);
  jw_str (&w, "name", r->name);
  jw_str (&w, "model", r->model);
  jw_str (&w, "spec", r->spec_text);
  jw_str (&w, "dataset", r->dataset);
  jw_str (&w, "data_dir", r->data_dir);
  jw_key (&w, "hyperparameters");
  jw_open (&w, '{', TRUE);
  jw_str (&w, "optimizer", cs_optim_kind_name (r->hp.optim.kind));
  jw_num (&w, "lr", r->hp.optim.lr);
  jw_num (&w, "momentum", r->hp.optim.momentum);
  jw_num (&w, "weight_decay", r->hp.optim.weight_decay);
  jw_num (&w, "beta1", r->hp.optim.beta1);
  jw_num (&w, "beta2", r->hp.optim.beta2);
  jw_num (&w, "eps", r->hp.optim.eps);
  jw_int (&w, "epochs", r->hp.epochs);
  jw_int (&w, "batch_size", r->hp.batch_size);
  jw_int (&w, "threads", r->hp.threads);
  jw_int (&w, "seed", (gint64) r->hp.seed);
  jw_close (&w, '}');
  jw_str (&w, "state", cs_run_state_to_string (r->state));
  jw_str (&w, "message", r->message);
  jw_int (&w, "created", r->created);
  jw_int (&w, "started", r->started);
  jw_int (&w, "ended", r->ended);
  jw_num (&w, "train_seconds", r->train_seconds);
  jw_int (&w, "n_params", (gint64) r->n_params);
  jw_int (&w, "at_epoch", r->at_epoch);
  jw_int (&w, "at_batch", r->at_batch);

  jw_key (&w, "epochs");
  jw_open (&w, '[', TRUE);
  for (guint i = 0; i < r->epochs->len; i++)
    {
      const CsEpochResult *e = &g_array_index (r->epochs, CsEpochResult, i);

      jw_open (&w, '{', FALSE);
      jw_int (&w, "epoch", e->epoch);
      jw_num (&w, "train_loss", e->train_loss);
      jw_num (&w, "train_acc", e->train_acc);
      jw_num (&w, "test_loss", e->test_loss);
      jw_num (&w, "test_acc", e->test_acc);
      jw_num (&w, "seconds", e->seconds);
      jw_num (&w, "samples_per_sec", e->samples_per_sec);
      jw_inline_begin (&w, "class_acc");
      for (int c = 0; c < CS_N_CLASSES; c++)
        jw_inline_num (&w, e->class_acc[c]);
      jw_inline_end (&w);
      jw_key (&w, "confusion");
      jw_open (&w, '[', TRUE);
      for (int t = 0; t < CS_N_CLASSES; t++)
        {
          jw_inline_begin (&w, NULL);
          for (int p = 0; p < CS_N_CLASSES; p++)
            jw_inline_num (&w, e->confusion[t][p]);
          jw_inline_end (&w);
        }
      jw_close (&w, ']');
      jw_close (&w, '}');
    }
  jw_close (&w, ']');

  jw_key (&w, "loss");
  jw_open (&w, '{', TRUE);
  jw_int (&w, "stride", r->loss_stride);
  jw_key (&w, "points");
  jw_open (&w, '[', TRUE);
  for (guint i = 0; i < r->loss->len; i++)
    {
      const CsLossPoint *p = &g_array_index (r->loss, CsLossPoint, i);
      jw_inline_begin (&w, NULL);
      jw_inline_num (&w, p->step);
      jw_inline_num (&w, p->loss);
      jw_inline_end (&w);
    }
  jw_close (&w, ']');
  jw_close (&w, '}');
  jw_close (&w, '}');
  g_string_append_c (w.s, '\n');
  return g_string_free (w.s, FALSE);
}

/* Typed member access that records the first problem. */
typedef struct
{
  const char *path;
  GError    **error;
  gboolean    failed;
} Reader;

static JsonNode *
member (Reader     *rd,
        JsonObject *obj,
        const char *name,
        JsonNodeType type,
        gboolean    required)
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

static RunRecord *
record_from_json (const char  *text,
                  gsize        len,
                  const char  *path,
                  GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(RunRecord) r = record_new ();
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
cs_run_record_check (const char  *text,
                     gsize        len,
                     const char  *path,
                     GError     **error)
{
  g_autoptr(RunRecord) r = NULL;
  g_autoptr(CsSpec) spec = NULL;

  g_return_val_if_fail (text != NULL, FALSE);

  r = record_from_json (text, len, path, error);
  if (r == NULL)
    return FALSE;
  spec = cs_spec_parse (r->spec_text, error);
  return spec != NULL;
}

/* ---- live training threads ---------------------------------------------- */

static gint n_active_threads;

/* ---- the worker --------------------------------------------------------- */

typedef struct
{
  gatomicrefcount  ref_count;
  GWeakRef         run;
  GMainContext    *context;

  /* Owned by the thread once started. */
  RunRecord       *record;
  char            *dir;
  CsSpec          *spec;
  CsDataset       *data;
  int              snapshot_every;

  GMutex           lock;
  GCond            cond;
  gboolean         pause_requested;
  gboolean         paused;
  gboolean         stop_requested;
  gboolean         eval_requested;

  /* Progress, coalesced: at most one idle pending. */
  int              epoch;
  int              batch;
  int              n_batches;
  double           samples_per_sec;
  double           running_loss;
  GArray          *pending_losses;   /* of CsLossPoint, raw per batch */
  gboolean         progress_posted;
  gint64           last_progress;
  gint64           epoch_start;
  CsSnapshot      *pending_snapshot;
  gboolean         snapshot_posted;

  /* Thread-local training state */
  CsSession       *session;
  CsModel         *probe_model;
  int              lock_fd;
} Worker;

static Worker *
worker_ref (Worker *w)
{
  g_atomic_ref_count_inc (&w->ref_count);
  return w;
}

static void
worker_unref (Worker *w)
{
  if (!cs_ref_count_dec (&w->ref_count))
    return;
  g_weak_ref_clear (&w->run);
  g_main_context_unref (w->context);
  record_free (w->record);
  g_free (w->dir);
  cs_spec_free (w->spec);
  cs_dataset_unref (w->data);
  cs_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_clear_pointer (&w->pending_losses, g_array_unref);
  g_clear_pointer (&w->pending_snapshot, cs_snapshot_unref);
  g_free (w);
}

guint
cs_run_n_active_threads (void)
{
  return (guint) g_atomic_int_get (&n_active_threads);
}

/* ---- the GObject -------------------------------------------------------- */

struct _CsRun
{
  GObject      parent_instance;

  RunRecord   *record;
  char        *dir;
  CsSpec      *spec;

  Worker      *worker;
  GThread     *thread;
  int          snapshot_every;

  int          epoch;
  int          batch;
  int          n_batches;
  double       samples_per_sec;
  double       running_loss;
  CsSnapshot  *snapshot;
};

G_DEFINE_FINAL_TYPE (CsRun, cs_run, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_STATE,
  PROP_MESSAGE,
  PROP_N_EPOCHS,
  N_PROPS
};

enum {
  SIGNAL_PROGRESS,
  SIGNAL_EPOCH_DONE,
  SIGNAL_SNAPSHOT,
  SIGNAL_EVALUATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
cs_run_dispose (GObject *object)
{
  CsRun *self = CS_RUN (object);

  /* A run dropped while it trains: the thread is told to stop and finishes
   * on its own; its events find no run and are discarded. */
  if (self->worker != NULL)
    {
      cs_mutex_lock (&self->worker->lock);
      self->worker->stop_requested = TRUE;
      self->worker->pause_requested = FALSE;
      g_cond_broadcast (&self->worker->cond);
      cs_mutex_unlock (&self->worker->lock);
      g_clear_pointer (&self->worker, worker_unref);
    }
  g_clear_pointer (&self->thread, g_thread_unref);
  g_clear_pointer (&self->snapshot, cs_snapshot_unref);

  G_OBJECT_CLASS (cs_run_parent_class)->dispose (object);
}

static void
cs_run_finalize (GObject *object)
{
  CsRun *self = CS_RUN (object);

  record_free (self->record);
  cs_spec_free (self->spec);
  g_free (self->dir);

  G_OBJECT_CLASS (cs_run_parent_class)->finalize (object);
}

static void
cs_run_get_property (GObject    *object,
                     guint       prop_id,
                     GValue     *value,
                     GParamSpec *pspec)
{
  CsRun *self = CS_RUN (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->record->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->record->name);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->record->state);
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->record->message);
      break;
    case PROP_N_EPOCHS:
      g_value_set_uint (value, self->record->epochs->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cs_run_class_init (CsRunClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cs_run_dispose;
  object_class->finalize = cs_run_finalize;
  object_class->get_property = cs_run_get_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, CS_RUN_QUEUED, CS_RUN_FAILED, CS_RUN_QUEUED,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_N_EPOCHS] = g_param_spec_uint ("n-epochs", NULL, NULL, 0, G_MAXUINT, 0,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Batch progress, at most ~30 a second; read the getters. */
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* An epoch ended: its index into the history. */
  signals[SIGNAL_EPOCH_DONE] = g_signal_new ("epoch-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                             0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /* A new weight snapshot: cs_run_get_snapshot(). */
  signals[SIGNAL_SNAPSHOT] = g_signal_new ("snapshot", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* cs_run_evaluate_now() answered: a CsEpochResult with the test metrics. */
  signals[SIGNAL_EVALUATED] = g_signal_new ("evaluated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
cs_run_init (CsRun *self)
{
  self->snapshot_every = 100;
}

/* ---- construction, loading, saving -------------------------------------- */

static char *
sanitize (const char *s)
{
  GString *out = g_string_new (NULL);

  for (const char *p = s; *p && out->len < 32; p++)
    {
      if (g_ascii_isalnum (*p))
        g_string_append_c (out, g_ascii_tolower (*p));
      else if (out->len > 0 && out->str[out->len - 1] != '-')
        g_string_append_c (out, '-');
    }
  while (out->len > 0 && out->str[out->len - 1] == '-')
    g_string_truncate (out, out->len - 1);
  if (out->len == 0)
    g_string_append (out, "model");
  return g_string_free (out, FALSE);
}

static gboolean
write_record (const RunRecord *r,
              const char      *dir,
              GError         **error)
{
  g_autofree char *json = record_to_json (r);
  g_autofree char *path = g_build_filename (dir, "run.json", NULL);

  return cs_write_file_atomic (path, json, strlen (json), error);
}

CsRun *
cs_run_new (const char          *runs_dir,
            const char          *name,
            const char          *model,
            const CsSpec        *spec,
            const CsHyperParams *hp,
            const char          *dataset,
            const char          *data_dir,
            GError             **error)
{
  g_autoptr(CsRun) self = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *base = g_path_get_basename (model);
  g_autofree char *label = sanitize (base);
  g_autoptr(CsModel) probe = NULL;

  g_return_val_if_fail (runs_dir != NULL && spec != NULL && hp != NULL, NULL);

  if (g_mkdir_with_parents (runs_dir, 0755) != 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "could not create the runs directory %s: %s", runs_dir, g_strerror (err));
      return NULL;
    }

  self = g_object_new (CS_TYPE_RUN, NULL);
  self->record = record_new ();
  /* A unique directory: the time and model, then -2, -3, ... if taken. */
  for (int n = 1; ; n++)
    {
      g_autofree char *id = n == 1 ? g_strdup_printf ("%s-%s", stamp, label)
                                   : g_strdup_printf ("%s-%s-%d", stamp, label, n);
      g_autofree char *dir = g_build_filename (runs_dir, id, NULL);

      if (g_mkdir (dir, 0755) == 0)
        {
          self->record->id = g_steal_pointer (&id);
          self->dir = g_steal_pointer (&dir);
          break;
        }
      if (errno != EEXIST || n > 1000)
        {
          int err = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                       "could not create the run directory %s: %s", dir, g_strerror (err));
          return NULL;
        }
    }

  self->spec = cs_spec_parse (spec->text, NULL);
  probe = cs_model_new (spec);
  self->record->name = g_strdup (name ? name : model);
  self->record->model = g_strdup (model);
  self->record->spec_text = g_strdup (spec->text);
  self->record->dataset = g_strdup (dataset);
  self->record->data_dir = g_strdup (data_dir);
  self->record->hp = *hp;
  self->record->state = CS_RUN_QUEUED;
  self->record->created = g_date_time_to_unix (now);
  self->record->n_params = cs_model_n_params (probe);

  if (!write_record (self->record, self->dir, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Whether another process holds the run's lock (it is training it). */
static gboolean
run_locked_elsewhere (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, ".lock", NULL);
  guint64 size;
  int fd = cs_file_open_regular (path, CS_FILE_NO_FOLLOW, G_MAXUINT64, &size, NULL);
  gboolean locked = FALSE;

  if (fd < 0)
    return FALSE;
  if (flock (fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    locked = TRUE;
  close (fd);
  return locked;
}

CsRun *
cs_run_load (const char  *run_dir,
             GError     **error)
{
  g_autofree char *path = g_build_filename (run_dir, "run.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CsRun) self = NULL;
  g_autoptr(CsSpec) spec = NULL;
  RunRecord *record;
  gsize len;

  /* Not through a link, not a FIFO or /dev/zero, not more than a record can be. */
  if (!cs_file_read_regular (path, CS_FILE_NO_FOLLOW, CS_RUN_RECORD_MAX_BYTES, &text, &len, &local_error))
    {
      g_set_error (error, G_IO_ERROR,
                   g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? G_IO_ERROR_NOT_FOUND
                                                                                   : G_IO_ERROR_INVALID_DATA,
                   "%s", local_error->message);
      return NULL;
    }
  record = record_from_json (text, len, path, error);
  if (record == NULL)
    return NULL;

  spec = cs_spec_parse (record->spec_text, &local_error);
  if (spec == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: its model spec does not parse: %s",
                   path, local_error->message);
      record_free (record);
      return NULL;
    }

  self = g_object_new (CS_TYPE_RUN, NULL);
  self->record = record;
  self->dir = g_strdup (run_dir);
  self->spec = g_steal_pointer (&spec);

  if (cs_run_state_is_live (record->state) && !run_locked_elsewhere (run_dir))
    {
      record->state = CS_RUN_STOPPED;
      g_free (record->message);
      record->message = g_strdup_printf ("interrupted: the program ended while it trained epoch %u",
                                         record->epochs->len);
    }
  return g_steal_pointer (&self);
}

gboolean
cs_run_save (CsRun   *self,
             GError **error)
{
  g_return_val_if_fail (CS_IS_RUN (self), FALSE);

  /* While a thread trains it, the thread is the one writer of run.json. */
  if (self->worker != NULL && cs_run_state_is_live (self->record->state))
    return TRUE;
  return write_record (self->record, self->dir, error);
}

/* ---- getters ------------------------------------------------------------ */

const char *cs_run_get_id (CsRun *self) { return self->record->id; }
const char *cs_run_get_name (CsRun *self) { return self->record->name; }
const char *cs_run_get_dir (CsRun *self) { return self->dir; }
const char *cs_run_get_model (CsRun *self) { return self->record->model; }
const char *cs_run_get_dataset (CsRun *self) { return self->record->dataset; }
const char *cs_run_get_data_dir (CsRun *self) { return self->record->data_dir; }
const CsSpec *cs_run_get_spec (CsRun *self) { return self->spec; }
const CsHyperParams *cs_run_get_hyper_params (CsRun *self) { return &self->record->hp; }
CsRunState cs_run_get_state (CsRun *self) { return self->record->state; }
const char *cs_run_get_message (CsRun *self) { return self->record->message; }
gint64 cs_run_get_created (CsRun *self) { return self->record->created; }
double cs_run_get_train_seconds (CsRun *self) { return self->record->train_seconds; }
gsize cs_run_get_n_params (CsRun *self) { return self->record->n_params; }
guint cs_run_get_n_epochs (CsRun *self) { return self->record->epochs->len; }
int cs_run_get_current_epoch (CsRun *self) { return self->epoch; }
int cs_run_get_current_batch (CsRun *self) { return self->batch; }
int cs_run_get_n_batches (CsRun *self) { return self->n_batches; }
double cs_run_get_samples_per_sec (CsRun *self) { return self->samples_per_sec; }
double cs_run_get_running_loss (CsRun *self) { return self->running_loss; }

char *
cs_run_get_checkpoint_path (CsRun *self)
{
  return g_build_filename (self->dir, "checkpoint.safetensors", NULL);
}

const CsEpochResult *
cs_run_get_epoch (CsRun *self,
                  guint  i)
{
  g_return_val_if_fail (i < self->record->epochs->len, NULL);
  return &g_array_index (self->record->epochs, CsEpochResult, i);
}

const CsLossPoint *
cs_run_get_loss_points (CsRun *self,
                        guint *n_points)
{
  *n_points = self->record->loss->len;
  return (const CsLossPoint *) self->record->loss->data;
}

CsSnapshot *
cs_run_get_snapshot (CsRun *self)
{
  return self->snapshot;
}

void
cs_run_set_snapshot_interval (CsRun *self,
                              int    batches)
{
  g_return_if_fail (CS_IS_RUN (self));
  self->snapshot_every = MAX (1, batches);
}

/* ---- events: worker thread -> main context ------------------------------- */

typedef enum
{
  EVENT_STATE,
  EVENT_EPOCH,
  EVENT_EVALUATED,
} EventKind;

typedef struct
{
  Worker        *worker;
  EventKind      kind;
  CsRunState     state;
  char          *message;
  CsEpochResult  result;
  double         train_seconds;
  int            at_epoch;
  int            at_batch;
} Event;

static void
event_free (gpointer data)
{
  Event *ev = data;

  cs_tsan_acquire (ev);
  worker_unref (ev->worker);
  g_free (ev->message);
  g_free (ev);
}

static void
set_state (CsRun      *self,
           CsRunState  state,
           const char *message)
{
  gboolean message_changed = g_strcmp0 (message, self->record->message) != 0;

  if (message_changed)
    {
      g_free (self->record->message);
      self->record->message = g_strdup (message);
    }
  if (self->record->state != state)
    {
      self->record->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  if (message_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}

/* Moves the coalesced progress into the run; returns whether there was any. */
static gboolean
drain_progress (CsRun  *self,
                Worker *w)
{
  g_autoptr(GArray) losses = NULL;

  cs_mutex_lock (&w->lock);
  self->epoch = w->epoch;
  self->batch = w->batch;
  self->n_batches = w->n_batches;
  self->samples_per_sec = w->samples_per_sec;
  self->running_loss = w->running_loss;
  if (w->pending_losses->len > 0)
    {
      losses = w->pending_losses;
      w->pending_losses = g_array_new (FALSE, FALSE, sizeof (CsLossPoint));
    }
  w->progress_posted = FALSE;
  cs_mutex_unlock (&w->lock);

  if (losses != NULL)
    for (guint i = 0; i < losses->len; i++)
      {
        CsLossPoint *p = &g_array_index (losses, CsLossPoint, i);
        record_add_loss (self->record, p->step, p->loss);
      }
  return losses != NULL;
}

static gboolean
progress_dispatch (gpointer data)
{
  Worker *w = data;
  g_autoptr(CsRun) self = g_weak_ref_get (&w->run);

  if (self == NULL)
    {
      cs_mutex_lock (&w->lock);
      w->progress_posted = FALSE;
      g_array_set_size (w->pending_losses, 0);
      cs_mutex_unlock (&w->lock);
      return G_SOURCE_REMOVE;
    }
  drain_progress (self, w);
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0);
  return G_SOURCE_REMOVE;
}

static gboolean
snapshot_dispatch (gpointer data)
{
  Worker *w = data;
  g_autoptr(CsRun) self = g_weak_ref_get (&w->run);
  CsSnapshot *snap;

  cs_mutex_lock (&w->lock);
  snap = g_steal_pointer (&w->pending_snapshot);
  w->snapshot_posted = FALSE;
  cs_mutex_unlock (&w->lock);

  if (self == NULL || snap == NULL)
    {
      g_clear_pointer (&snap, cs_snapshot_unref);
      return G_SOURCE_REMOVE;
    }
  g_clear_pointer (&self->snapshot, cs_snapshot_unref);
  self->snapshot = snap;
  g_signal_emit (self, signals[SIGNAL_SNAPSHOT], 0);
  return G_SOURCE_REMOVE;
}

static gboolean
event_dispatch (gpointer data)
{
  Event *ev = data;
  g_autoptr(CsRun) self = NULL;

  cs_tsan_acquire (ev);
  self = g_weak_ref_get (&ev->worker->run);

  if (self == NULL)
    return G_SOURCE_REMOVE;

  /* Progress that is still coalescing comes first, so events stay in order. */
  if (drain_progress (self, ev->worker))
    g_signal_emit (self, signals[SIGNAL_PROGRESS], 0);

  switch (ev->kind)
    {
    case EVENT_STATE:
      self->record->train_seconds = ev->train_seconds;
      self->record->at_epoch = ev->at_epoch;
      self->record->at_batch = ev->at_batch;
      if (!cs_run_state_is_live (ev->state))
        self->record->ended = g_get_real_time () / G_USEC_PER_SEC;
      if (ev->state == CS_RUN_RUNNING && self->record->started == 0)
        self->record->started = g_get_real_time () / G_USEC_PER_SEC;
      set_state (self, ev->state, ev->message);
      break;
    case EVENT_EPOCH:
      g_array_append_val (self->record->epochs, ev->result);
      self->record->train_seconds = ev->train_seconds;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_EPOCHS]);
      g_signal_emit (self, signals[SIGNAL_EPOCH_DONE], 0, self->record->epochs->len - 1);
      break;
    case EVENT_EVALUATED:
      g_signal_emit (self, signals[SIGNAL_EVALUATED], 0, &ev->result);
      break;
    default:
      g_assert_not_reached ();
    }
  return G_SOURCE_REMOVE;
}

/*
 * Runs func (data) in the thread that iterates the run's main context, never
 * in the trainer's. (g_main_context_invoke_full() is not that: when the
 * context is the global default and nobody holds it at that instant — the
 * CLI or a test between two iterations — it calls func right here, on the
 * trainer thread; ThreadSanitizer caught progress being merged from both.)
 */
static void
post_to_context (GMainContext   *context,
                 int             priority,
                 GSourceFunc     func,
                 gpointer        data,
                 GDestroyNotify  notify)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, priority);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[convscope] trainer event");
  g_source_attach (source, context);
  g_source_unref (source);
}

static void
post_event (Worker *w,
            Event  *ev)
{
  ev->worker = worker_ref (w);
  cs_tsan_release (ev);
  post_to_context (w->context, G_PRIORITY_DEFAULT, event_dispatch, ev, event_free);
}

static void
post_state (Worker     *w,
            CsRunState  state,
            const char *message)
{
  Event *ev = g_new0 (Event, 1);

  ev->kind = EVENT_STATE;
  ev->state = state;
  ev->message = g_strdup (message);
  ev->train_seconds = w->record->train_seconds;
  ev->at_epoch = w->record->at_epoch;
  ev->at_batch = w->record->at_batch;
  post_event (w, ev);
}

/* ---- the training thread ------------------------------------------------ */


/* Writes run.json; a failure (disk full, read-only) is told to the person
 * through the run's message, and training goes on: the previous file is intact. */
static void
worker_write_record (Worker *w)
{
  g_autoptr(GError) error = NULL;

  if (!write_record (w->record, w->dir, &error))
    post_state (w, w->record->state, error->message);
}

static GHashTable *
checkpoint_metadata (Worker              *w,
                     const CsEpochResult *last)
{
  GHashTable *meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  const CsHyperParams *hp = &w->record->hp;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_hash_table_insert (meta, (char *) "format", g_strdup ("convscope"));
  g_hash_table_insert (meta, (char *) "convscope_version", g_strdup (PACKAGE_VERSION));
  g_hash_table_insert (meta, (char *) "spec", g_strdup (w->record->spec_text));
  g_hash_table_insert (meta, (char *) "model", g_strdup (w->record->model));
  g_hash_table_insert (meta, (char *) "run_id", g_strdup (w->record->id));
  g_hash_table_insert (meta, (char *) "dataset", g_strdup (w->record->dataset));
  g_hash_table_insert (meta, (char *) "optimizer", g_strdup (cs_optim_kind_name (hp->optim.kind)));
  g_hash_table_insert (meta, (char *) "lr", g_strdup (g_ascii_dtostr (buf, sizeof buf, hp->optim.lr)));
  g_hash_table_insert (meta, (char *) "momentum", g_strdup (g_ascii_dtostr (buf, sizeof buf, hp->optim.momentum)));
  g_hash_table_insert (meta, (char *) "weight_decay", g_strdup (g_ascii_dtostr (buf, sizeof buf, hp->optim.weight_decay)));
  g_hash_table_insert (meta, (char *) "batch_size", g_strdup_printf ("%d", hp->batch_size));
  g_hash_table_insert (meta, (char *) "seed", g_strdup_printf ("%" G_GUINT64_FORMAT, hp->seed));
  g_hash_table_insert (meta, (char *) "epoch", g_strdup_printf ("%u", w->record->epochs->len));
  if (last != NULL)
    g_hash_table_insert (meta, (char *) "test_accuracy", g_strdup_printf ("%.2f", last->test_acc));
  return meta;
}

/* Whether the checkpoint was saved; if not, the person is told and *message
 * (when given) says why. */
static gboolean
worker_save_checkpoint (Worker              *w,
                        const CsEpochResult *last,
                        char               **message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) meta = checkpoint_metadata (w, last);
  g_autofree char *path = g_build_filename (w->dir, "checkpoint.safetensors", NULL);

  if (!cs_checkpoint_save (path, cs_session_get_model (w->session), cs_session_get_optim (w->session), meta, &error))
    {
      if (message != NULL)
        *message = g_strdup (error->message);
      /* Training goes on; the person is told (the last good checkpoint stays). */
      Event *ev = g_new0 (Event, 1);
      ev->kind = EVENT_STATE;
      ev->state = CS_RUN_RUNNING;
      ev->message = g_strdup (error->message);
      ev->train_seconds = w->record->train_seconds;
      post_event (w, ev);
      g_debug ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static CsSnapshot *
make_snapshot (Worker *w,
               int     epoch,
               int     batch)
{
  CsModel *model = cs_session_get_model (w->session);
  const CsSpec *spec = cs_model_get_spec (model);
  CsSnapshot *snap = g_new0 (CsSnapshot, 1);
  gsize n_in = cs_shape_numel (spec->input);
  gint32 label;

  g_atomic_ref_count_init (&snap->ref_count);
  snap->epoch = epoch;
  snap->batch = batch;
  snap->step = (gint64) epoch * w->n_batches + batch + 1;
  snap->n_params = cs_model_n_params (model);
  snap->params = cs_alloc_floats (snap->n_params);
  memcpy (snap->params, cs_model_params (model), snap->n_params * sizeof (float));

  /* The probe: test image 0, through a private copy of the model so the
   * training buffers are not touched. */
  snap->probe = cs_alloc_floats (n_in);
  cs_data_split_first_to_float (&w->data->test, 0, 1, snap->probe, &label);
  snap->probe_label = label;
  memcpy (cs_model_params (w->probe_model), snap->params, snap->n_params * sizeof (float));
  cs_model_forward (w->probe_model, snap->probe, 1, FALSE, NULL);
  snap->n_layers = cs_spec_n_layers (spec);
  snap->activations = g_new0 (float *, snap->n_layers);
  for (guint i = 0; i < snap->n_layers; i++)
    {
      gsize n = cs_shape_numel (cs_spec_layer (spec, i)->out);
      snap->activations[i] = cs_alloc_floats (n);
      memcpy (snap->activations[i], cs_model_layer_output (w->probe_model, i), n * sizeof (float));
    }
  return snap;
}

static void
post_snapshot (Worker *w,
               int     epoch,
               int     batch)
{
  CsSnapshot *snap = make_snapshot (w, epoch, batch);
  gboolean post;

  cs_mutex_lock (&w->lock);
  /* Only the newest waits: a slow main loop never queues a pile of copies. */
  g_clear_pointer (&w->pending_snapshot, cs_snapshot_unref);
  w->pending_snapshot = snap;
  post = !w->snapshot_posted;
  w->snapshot_posted = TRUE;
  cs_mutex_unlock (&w->lock);
  if (post)
    post_to_context (w->context, G_PRIORITY_DEFAULT_IDLE, snapshot_dispatch,
                     worker_ref (w), (GDestroyNotify) worker_unref);
}

static gboolean
batch_cb (int      epoch,
          int      batch,
          int      n_batches,
          double   loss,
          gpointer user_data)
{
  Worker *w = user_data;
  gint64 now = g_get_monotonic_time ();
  gboolean post = FALSE, keep_going, eval;
  CsLossPoint point = { (double) epoch * n_batches + batch + 1, (float) loss };

  record_add_loss (w->record, point.step, loss);

  cs_mutex_lock (&w->lock);
  if (batch == 0)
    w->epoch_start = now;
  w->epoch = epoch;
  w->batch = batch + 1;
  w->n_batches = n_batches;
  w->samples_per_sec = now > w->epoch_start
    ? (batch + 1) * (double) w->record->hp.batch_size / ((now - w->epoch_start) / 1e6) : 0;
  w->running_loss = batch == 0 ? loss : 0.95 * w->running_loss + 0.05 * loss;
  g_array_append_val (w->pending_losses, point);
  if (!w->progress_posted && now - w->last_progress >= PROGRESS_INTERVAL)
    {
      w->progress_posted = TRUE;
      w->last_progress = now;
      post = TRUE;
    }

  /* Pause at this batch boundary until resumed or stopped. */
  if (w->pause_requested && !w->stop_requested)
    {
      w->paused = TRUE;
      w->record->state = CS_RUN_PAUSED;
      w->record->at_epoch = epoch;
      w->record->at_batch = batch + 1;
      cs_mutex_unlock (&w->lock);
      worker_write_record (w);
      post_state (w, CS_RUN_PAUSED, NULL);
      /* A paused run leaves its share of the cores to the others. */
      cs_pool_set_active (cs_session_get_pool (w->session), FALSE);
      cs_mutex_lock (&w->lock);
      while (w->pause_requested && !w->stop_requested)
        cs_cond_wait (&w->cond, &w->lock);
      cs_mutex_unlock (&w->lock);
      cs_pool_set_active (cs_session_get_pool (w->session), TRUE);
      cs_mutex_lock (&w->lock);
      w->paused = FALSE;
      w->record->state = CS_RUN_RUNNING;
      cs_mutex_unlock (&w->lock);
      worker_write_record (w);
      post_state (w, CS_RUN_RUNNING, NULL);
      cs_mutex_lock (&w->lock);
      w->epoch_start = g_get_monotonic_time () - (gint64) ((batch + 1) * (double) w->record->hp.batch_size /
                                                           MAX (w->samples_per_sec, 1) * 1e6);
    }
  keep_going = !w->stop_requested;
  eval = w->eval_requested;
  w->eval_requested = FALSE;
  cs_mutex_unlock (&w->lock);

  if (post)
    post_to_context (w->context, G_PRIORITY_DEFAULT_IDLE, progress_dispatch,
                     worker_ref (w), (GDestroyNotify) worker_unref);

  if (eval && keep_going)
    {
      Event *ev = g_new0 (Event, 1);
      ev->kind = EVENT_EVALUATED;
      cs_evaluate (cs_session_get_model (w->session), &w->data->test, w->record->hp.batch_size, &ev->result);
      ev->result.epoch = epoch;
      post_event (w, ev);
    }
  if (keep_going && w->snapshot_every > 0 && (batch + 1) % w->snapshot_every == 0)
    post_snapshot (w, epoch, batch);

  if (!keep_going)
    {
      w->record->at_epoch = epoch;
      w->record->at_batch = batch + 1;
    }
  return keep_going;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *lock_path = g_build_filename (w->dir, ".lock", NULL);
  CsRunState final_state = CS_RUN_FINISHED;
  g_autofree char *final_message = NULL;
  const CsEpochResult *last = NULL;

  /* Held for the thread's life: another process listing runs knows this one is live. */
  w->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (w->lock_fd >= 0)
    flock (w->lock_fd, LOCK_EX);

  /* Training yields to the window: a lower priority for this thread and the
   * pool threads it creates (they inherit it). It costs nothing while the
   * cores are otherwise idle; when the window draws (on a machine without a
   * GPU GTK's GL renderer rasterises on these same cores), nice 10 rather
   * than 5 took the median frame interval under Xvfb from 33 to 16.7 ms. */
  if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10) != 0)
    g_debug ("could not lower the trainer's priority: %s", g_strerror (errno));
  g_atomic_int_inc (&n_active_threads);
  w->session = cs_session_new (w->spec, &w->record->hp, w->data, &error);
  if (w->session == NULL)
    {
      final_state = CS_RUN_FAILED;
      final_message = g_strdup (error->message);
      goto out;
    }
  w->probe_model = cs_model_new (w->spec);
  cs_model_set_batch_capacity (w->probe_model, 1);

  w->record->state = CS_RUN_RUNNING;
  w->record->started = g_get_real_time () / G_USEC_PER_SEC;
  worker_write_record (w);
  post_state (w, CS_RUN_RUNNING, NULL);

  for (int e = 0; e < w->record->hp.epochs; e++)
    {
      CsEpochResult result;
      gboolean ok;
      Event *ev;

      ok = cs_session_train_epoch (w->session, batch_cb, w, &result, &error);

      if (!ok)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              final_state = CS_RUN_STOPPED;
              final_message = g_strdup_printf ("stopped at epoch %d, batch %d", w->record->at_epoch,
                                               w->record->at_batch);
            }
          else
            {
              final_state = CS_RUN_FAILED;
              final_message = g_strdup (error->message);
            }
          /* What was learned is kept: the weights as they are (a NaN step was undone). */
          {
            g_autofree char *why = NULL;
            if (!worker_save_checkpoint (w, last, &why))
              {
                char *both = g_strdup_printf ("%s; and the checkpoint could not be saved: %s", final_message, why);
                g_free (final_message);
                final_message = both;
                final_state = CS_RUN_FAILED;
              }
          }
          break;
        }

      w->record->train_seconds += result.seconds;
      g_array_append_val (w->record->epochs, result);
      last = &g_array_index (w->record->epochs, CsEpochResult, w->record->epochs->len - 1);
      /* Checkpoint first, then the record that counts the epoch. The
       * last one is the run's result: if it cannot be saved the run has
       * failed, whatever it learned (an earlier one is retried next epoch). */
      {
        g_autofree char *why = NULL;
        if (!worker_save_checkpoint (w, last, &why) && e == w->record->hp.epochs - 1)
          {
            final_state = CS_RUN_FAILED;
            final_message = g_strdup_printf ("the final checkpoint could not be saved: %s; "
                                             "checkpoint.safetensors, if there is one, holds an earlier epoch's "
                                             "weights", why);
          }
      }
      w->record->at_epoch = e + 1;
      w->record->at_batch = 0;
      worker_write_record (w);

      ev = g_new0 (Event, 1);
      ev->kind = EVENT_EPOCH;
      ev->result = result;
      ev->train_seconds = w->record->train_seconds;
      post_event (w, ev);
      post_snapshot (w, e, cs_session_n_batches (w->session) - 1);
    }

out:
  w->record->state = final_state;
  g_free (w->record->message);
  w->record->message = g_strdup (final_message);
  w->record->ended = g_get_real_time () / G_USEC_PER_SEC;
  worker_write_record (w);
  post_state (w, final_state, final_message);

  g_clear_pointer (&w->session, cs_session_free);
  g_clear_pointer (&w->probe_model, cs_model_free);
  if (w->lock_fd >= 0)
    {
      flock (w->lock_fd, LOCK_UN);
      close (w->lock_fd);
      w->lock_fd = -1;
    }
  g_atomic_int_dec_and_test (&n_active_threads);
  worker_unref (w);
  return NULL;
}

gboolean
cs_run_start (CsRun     *self,
              CsDataset *data,
              GError   **error)
{
  Worker *w;

  g_return_val_if_fail (CS_IS_RUN (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (self->worker != NULL || self->record->state != CS_RUN_QUEUED)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "run %s has already been started", self->record->id);
      return FALSE;
    }
  if (!cs_hyper_params_validate (&self->record->hp, data->train.n, error))
    return FALSE;

  w = g_new0 (Worker, 1);
  g_atomic_ref_count_init (&w->ref_count);
  g_weak_ref_init (&w->run, self);
  w->context = g_main_context_ref_thread_default ();
  w->record = record_copy (self->record);
  w->dir = g_strdup (self->dir);
  w->spec = cs_spec_parse (self->spec->text, NULL);
  w->data = cs_dataset_ref (data);
  w->snapshot_every = self->snapshot_every;
  w->pending_losses = g_array_new (FALSE, FALSE, sizeof (CsLossPoint));
  w->lock_fd = -1;
  cs_mutex_init (&w->lock);
  g_cond_init (&w->cond);

  self->worker = w;
  self->thread = g_thread_try_new ("cs-trainer", worker_thread, worker_ref (w), error);
  if (self->thread == NULL)
    {
      worker_unref (w);
      g_clear_pointer (&self->worker, worker_unref);
      return FALSE;
    }
  return TRUE;
}

void
cs_run_pause (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->worker == NULL)
    return;
  cs_mutex_lock (&self->worker->lock);
  self->worker->pause_requested = TRUE;
  cs_mutex_unlock (&self->worker->lock);
}

void
cs_run_resume (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->worker == NULL)
    return;
  cs_mutex_lock (&self->worker->lock);
  self->worker->pause_requested = FALSE;
  g_cond_broadcast (&self->worker->cond);
  cs_mutex_unlock (&self->worker->lock);
}

void
cs_run_stop (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->worker == NULL)
    return;
  cs_mutex_lock (&self->worker->lock);
  self->worker->stop_requested = TRUE;
  self->worker->pause_requested = FALSE;
  g_cond_broadcast (&self->worker->cond);
  cs_mutex_unlock (&self->worker->lock);
}

void
cs_run_evaluate_now (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->worker == NULL)
    return;
  cs_mutex_lock (&self->worker->lock);
  self->worker->eval_requested = TRUE;
  cs_mutex_unlock (&self->worker->lock);
}

void
cs_run_join (CsRun *self)
{
  g_return_if_fail (CS_IS_RUN (self));
  if (self->thread != NULL)
    {
      g_thread_join (g_steal_pointer (&self->thread));
      /* Deliver what the thread posted before it ended. */
      while (g_main_context_iteration (self->worker ? self->worker->context : NULL, FALSE))
        ;
    }
}

/* ---- CSV ---------------------------------------------------------------- */

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
  const RunRecord *r = self->record;
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
