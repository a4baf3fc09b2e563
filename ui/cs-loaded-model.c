/* A loaded checkpoint: its model built once, and its test accuracy computed off the main thread. */

#define G_LOG_DOMAIN "cs-loaded-model"

#include "config.h"

#include "cs-loaded-model.h"
#include "base/cs-thread-pool.h"

#include <string.h>

struct _CsLoadedModel
{
  GObject        parent_instance;
  char          *name;
  char          *path;
  char          *model_name;
  CsCheckpoint  *checkpoint;
  CsSpec        *spec;
  CsModel       *model;
  CsEpochResult  result;
  gboolean       evaluated;
  gboolean       evaluating;
  char          *eval_error;   /* why it cannot be evaluated (e.g. too few outputs), or NULL */
  gboolean       bundled;      /* the LeNet-5 in the program's resources */
};

G_DEFINE_FINAL_TYPE (CsLoadedModel, cs_loaded_model, G_TYPE_OBJECT)

enum { PROP_0, PROP_EVALUATED, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
cs_loaded_model_finalize (GObject *object)
{
  CsLoadedModel *self = CS_LOADED_MODEL (object);

  g_free (self->eval_error);
  g_free (self->name);
  g_free (self->path);
  g_free (self->model_name);
  cs_checkpoint_free (self->checkpoint);
  cs_spec_free (self->spec);
  cs_model_free (self->model);
  G_OBJECT_CLASS (cs_loaded_model_parent_class)->finalize (object);
}

static void
cs_loaded_model_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CsLoadedModel *self = CS_LOADED_MODEL (object);

  switch (prop_id)
    {
    case PROP_EVALUATED:
      g_value_set_boolean (value, self->evaluated);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cs_loaded_model_class_init (CsLoadedModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cs_loaded_model_finalize;
  object_class->get_property = cs_loaded_model_get_property;
  properties[PROP_EVALUATED] = g_param_spec_boolean ("evaluated", NULL, NULL, FALSE,
                                                     G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cs_loaded_model_init (CsLoadedModel *self)
{
}

static CsLoadedModel *
from_checkpoint (CsCheckpoint *ckpt,
                 const char   *name,
                 GError      **error)
{
  g_autoptr(CsLoadedModel) self = g_object_new (CS_TYPE_LOADED_MODEL, NULL);

  self->checkpoint = ckpt;
  self->path = g_strdup (ckpt->path);
  self->name = g_strdup (name);
  self->spec = cs_checkpoint_infer_spec (ckpt, NULL, &self->model_name, error);
  if (self->spec == NULL)
    return NULL;
  self->model = cs_model_new (self->spec);
  if (!cs_checkpoint_apply (ckpt, self->model, error))
    return NULL;
  cs_model_set_batch_capacity (self->model, 1);
  return g_steal_pointer (&self);
}

CsLoadedModel *
cs_loaded_model_new (const char *path,
                     GError    **error)
{
  CsCheckpoint *ckpt = cs_checkpoint_load (path, error);
  g_autofree char *base = NULL;

  if (ckpt == NULL)
    return NULL;
  base = g_path_get_basename (path);
  return from_checkpoint (ckpt, base, error);
}

CsLoadedModel *
cs_loaded_model_new_bundled (GError **error)
{
  CsCheckpoint *ckpt = cs_checkpoint_load_bundled (error);
  CsLoadedModel *self;

  if (ckpt == NULL)
    return NULL;
  self = from_checkpoint (ckpt, "Bundled LeNet-5", error);
  if (self != NULL)
    self->bundled = TRUE;
  return self;
}

gboolean
cs_loaded_model_is_bundled (CsLoadedModel *self)
{
  g_return_val_if_fail (CS_IS_LOADED_MODEL (self), FALSE);

  return self->bundled;
}

const char *cs_loaded_model_get_name (CsLoadedModel *self) { return self->name; }
const char *cs_loaded_model_get_path (CsLoadedModel *self) { return self->path; }
const char *cs_loaded_model_get_format (CsLoadedModel *self) { return self->checkpoint->format; }
const char *cs_loaded_model_get_model (CsLoadedModel *self) { return self->model_name; }
const CsSpec *cs_loaded_model_get_spec (CsLoadedModel *self) { return self->spec; }
CsModel *cs_loaded_model_get_model_instance (CsLoadedModel *self) { return self->model; }
const CsCheckpoint *cs_loaded_model_get_checkpoint (CsLoadedModel *self) { return self->checkpoint; }
gboolean cs_loaded_model_is_evaluating (CsLoadedModel *self) { return self->evaluating; }
const char *cs_loaded_model_get_eval_error (CsLoadedModel *self) { return self->eval_error; }

const CsEpochResult *
cs_loaded_model_get_result (CsLoadedModel *self)
{
  return self->evaluated ? &self->result : NULL;
}

typedef struct
{
  CsSpec        *spec;
  float         *params;
  gsize          n_params;
  CsDataset     *data;
  CsEpochResult  result;
} EvalJob;

static void
eval_job_free (EvalJob *job)
{
  cs_spec_free (job->spec);
  g_free (job->params);
  cs_dataset_unref (job->data);
  g_free (job);
}

static void
eval_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  EvalJob *job = task_data;
  g_autoptr(CsModel) model = NULL;
  g_autoptr(CsThreadPool) pool = NULL;
  GError *error = NULL;

  if (!cs_spec_fits_dataset (job->spec, job->data, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  model = cs_model_new (job->spec);
  pool = cs_thread_pool_new (MAX (1, (int) g_get_num_processors () / 2));

  cs_thread_pool_set_current (pool);
  memcpy (cs_model_params (model), job->params, job->n_params * sizeof (float));
  cs_evaluate (model, &job->data->test, 100, &job->result);
  cs_thread_pool_set_current (NULL);
  g_task_return_boolean (task, TRUE);
}

static void
eval_done (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  CsLoadedModel *self = CS_LOADED_MODEL (source);
  EvalJob *job = g_task_get_task_data (G_TASK (res));

  g_autoptr(GError) error = NULL;

  self->evaluating = FALSE;
  if (g_task_propagate_boolean (G_TASK (res), &error))
    {
      self->result = job->result;
      self->evaluated = TRUE;
    }
  else
    {
      g_free (self->eval_error);
      self->eval_error = g_strdup (error->message);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EVALUATED]);
}

void
cs_loaded_model_evaluate (CsLoadedModel *self,
                          CsDataset     *data)
{
  g_autoptr(GTask) task = NULL;
  EvalJob *job;

  if (self->evaluating || self->evaluated || self->eval_error != NULL)
    return;
  self->evaluating = TRUE;
  job = g_new0 (EvalJob, 1);
  job->spec = cs_spec_parse (self->spec->text, NULL);
  job->n_params = cs_model_n_values (self->model);
  job->params = g_memdup2 (cs_model_params (self->model), job->n_params * sizeof (float));
  job->data = cs_dataset_ref (data);
  task = g_task_new (self, NULL, eval_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) eval_job_free);
  g_task_run_in_thread (task, eval_thread);
}
