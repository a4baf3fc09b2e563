/* The training loop of the notebook, batched: shuffle, forward, loss, backward, step; then evaluate. */

#define G_LOG_DOMAIN "cs-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "base/cs-thread-pool.h"
#include "nn/cs-presets.h"
#include "base/cs-rng.h"
#include "train/cs-trainer.h"

G_DEFINE_QUARK (cs-train-error-quark, cs_train_error)

gboolean
cs_run_result_is_chance (const CsEpochResult *result)
{
  g_return_val_if_fail (result != NULL, FALSE);

  return result->test_acc <= 1.5 * 100.0 / CS_N_CLASSES;
}

#define CS_LOSS_EXPLODED 1e4

struct _CsTrainer
{
  CsHyperParams     hp;
  const CsDataset  *data;
  CsModel          *model;
  CsOptim          *optim;
  CsRng             rng;          /* data order and dropout */
  guint32          *order;
  float            *x;            /* (batch, input) */
  gint32           *y;
  float            *backup;       /* the weights before the last step, to undo a NaN */
  float            *state_backup; /* the model's state (BatchNorm's statistics) before the last forward pass */
  CsThreadPool           *pool;
  int               epoch;        /* epochs completed */
};

void
cs_hyper_params_for_preset (CsHyperParams *hp,
                            const char    *model)
{
  const CsPreset *preset = model ? cs_preset_lookup (model) : NULL;
  CsOptimKind kind = preset ? preset->optimizer : CS_OPTIM_ADAM;

  g_return_if_fail (hp != NULL);

  memset (hp, 0, sizeof *hp);
  cs_optim_config_defaults (&hp->optim, kind);
  if (preset != NULL)
    hp->optim.lr = preset->lr;
  hp->epochs = 5;
  hp->batch_size = 100;
  hp->threads = MAX (1, (int) g_get_num_processors ());
  hp->seed = 1;
}

gboolean
cs_hyper_params_validate (const CsHyperParams *hp,
                          guint                n_train,
                          GError             **error)
{
  g_return_val_if_fail (hp != NULL, FALSE);

  const CsOptimConfig *o = &hp->optim;

  if (!(isfinite (o->lr) && o->lr > 0))
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "the learning rate must be a positive number, not %g", o->lr);
      return FALSE;
    }
  if (!(isfinite (o->momentum) && o->momentum >= 0 && o->momentum < 1))
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "momentum must be in [0, 1), not %g", o->momentum);
      return FALSE;
    }
  if (!(isfinite (o->weight_decay) && o->weight_decay >= 0))
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "weight decay must be zero or positive, not %g", o->weight_decay);
      return FALSE;
    }
  if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->eps > 0))
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "Adam needs betas in [0, 1) and a positive eps");
      return FALSE;
    }
  if (hp->epochs < 1 || hp->epochs > 100000)
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "epochs must be from 1 to 100000, not %d", hp->epochs);
      return FALSE;
    }
  if (hp->batch_size < 1 || (n_train > 0 && (guint) hp->batch_size > n_train))
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "the batch size must be from 1 to the %u training images, not %d", n_train, hp->batch_size);
      return FALSE;
    }
  if (hp->threads < 1 || hp->threads > 256)
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "threads must be from 1 to 256, not %d", hp->threads);
      return FALSE;
    }
  return TRUE;
}

gboolean
cs_spec_fits_dataset (const CsSpec    *spec,
                      const CsDataset *data,
                      GError         **error)
{
  CsShape in;
  gsize n_out;

  g_return_val_if_fail (spec != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  in = spec->input;
  if (cs_shape_numel (in) != (gsize) data->train.rows * data->train.cols ||
      (!in.flat && (in.c != 1 || in.h != (int) data->train.rows || in.w != (int) data->train.cols)))
    {
      g_autofree char *s = cs_shape_to_string (in);
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "the model expects %s inputs but the %s images are 1x%ux%u",
                   s, data->name, data->train.rows, data->train.cols);
      return FALSE;
    }
  n_out = cs_shape_numel (cs_spec_output_shape (spec));
  if (n_out < CS_N_CLASSES)
    {
      g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_INVALID,
                   "the model has %" G_GSIZE_FORMAT " output%s but %s has %d classes; its last layer should have %d outputs",
                   n_out, n_out == 1 ? "" : "s", data->name, CS_N_CLASSES, CS_N_CLASSES);
      return FALSE;
    }
  return TRUE;
}

CsTrainer *
cs_trainer_new (const CsSpec        *spec,
                const CsHyperParams *hp,
                const CsDataset     *data,
                GError             **error)
{
  CsTrainer *self;
  CsRng init_rng;

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (data != NULL, NULL);

  if (!cs_hyper_params_validate (hp, data->train.n, error))
    return NULL;

  if (!cs_spec_fits_dataset (spec, data, error))
    return NULL;

  self = g_new0 (CsTrainer, 1);
  self->hp = *hp;
  self->data = data;
  self->model = cs_model_new (spec);
  self->optim = cs_optim_new (&hp->optim, cs_model_n_params (self->model));
  /* Separate streams: initialisation does not shift with the data order. */
  cs_rng_seed (&init_rng, hp->seed, 1);
  cs_rng_seed (&self->rng, hp->seed, 2);
  cs_model_init_params (self->model, &init_rng);
  cs_model_set_batch_capacity (self->model, hp->batch_size);

  self->order = g_new (guint32, data->train.n);
  for (guint i = 0; i < data->train.n; i++)
    self->order[i] = i;
  self->x = cs_alloc_floats ((gsize) hp->batch_size * cs_model_input_size (self->model));
  self->y = cs_alloc (hp->batch_size * sizeof (gint32));
  self->backup = cs_alloc_floats (cs_model_n_params (self->model));
  self->state_backup = cs_alloc_floats (MAX (cs_model_n_values (self->model) - cs_model_n_params (self->model), 1));
  self->pool = cs_thread_pool_new (hp->threads);
  return self;
}

void
cs_trainer_free (CsTrainer *self)
{
  if (self == NULL)
    return;
  cs_model_free (self->model);
  cs_optim_free (self->optim);
  g_free (self->order);
  cs_free_floats (self->x);
  cs_free (self->y);
  cs_free_floats (self->backup);
  cs_free_floats (self->state_backup);
  cs_thread_pool_free (self->pool);
  g_free (self);
}

CsModel *
cs_trainer_get_model (CsTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->model;
}

CsThreadPool *
cs_trainer_get_thread_pool (CsTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->pool;
}

CsOptim *
cs_trainer_get_optim (CsTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->optim;
}

int
cs_trainer_get_epoch (const CsTrainer *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->epoch;
}

int
cs_trainer_n_batches (const CsTrainer *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return (int) ((self->data->train.n + self->hp.batch_size - 1) / self->hp.batch_size);
}

static int
argmax_row (const float *row,
            int          n)
{
  int best = 0;

  for (int j = 1; j < n; j++)
    if (row[j] > row[best])
      best = j;
  return best;
}

void
cs_evaluate (CsModel           *model,
             const CsDataSplit *split,
             int                batch_size,
             CsEpochResult     *result)
{
  gsize in_size = cs_model_input_size (model);
  int n_out = cs_model_n_outputs (model);
  g_autofree gint32 *y = NULL;
  float *x;
  guint correct = 0;
  guint class_total[CS_N_CLASSES] = { 0 };
  double loss = 0;

  /* The loss reads the logit of every label: callers check cs_spec_fits_dataset(). */
  g_return_if_fail (n_out >= CS_N_CLASSES);
  g_return_if_fail (in_size == (gsize) split->rows * split->cols);
  y = g_new (gint32, batch_size);
  x = cs_alloc_floats ((gsize) batch_size * in_size);
  memset (result->confusion, 0, sizeof result->confusion);
  for (guint first = 0; first < split->n; first += batch_size)
    {
      int B = (int) MIN ((guint) batch_size, split->n - first);
      const float *out;

      cs_data_split_first_to_float (split, first, B, x, y);
      out = cs_model_forward (model, x, B, FALSE, NULL);
      loss += cs_model_loss (model, y, B, FALSE) * B;
      for (int s = 0; s < B; s++)
        {
          int pred = argmax_row (out + (gsize) s * n_out, n_out);
          if (pred == y[s])
            correct++;
          if (pred < CS_N_CLASSES)
            result->confusion[y[s]][pred]++;
          class_total[y[s]]++;
        }
    }
  cs_free_floats (x);

  result->test_loss = split->n ? loss / split->n : 0;
  result->test_acc = split->n ? 100.0 * correct / split->n : 0;
  for (int c = 0; c < CS_N_CLASSES; c++)
    result->class_acc[c] = class_total[c] ? 100.0 * result->confusion[c][c] / class_total[c] : 0;
}

gboolean
cs_trainer_train_epoch (CsTrainer     *self,
                        CsBatchFunc    func,
                        gpointer       user_data,
                        CsEpochResult *result,
                        GError       **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (result != NULL, FALSE);

  const CsDataSplit *train = &self->data->train;
  int bs = self->hp.batch_size;
  int n_batches = cs_trainer_n_batches (self);
  int n_out = cs_model_n_outputs (self->model);
  gsize n_params = cs_model_n_params (self->model);
  gsize n_state = cs_model_n_values (self->model) - n_params;
  float *params = cs_model_params (self->model);
  double loss_sum = 0;
  guint correct = 0, seen = 0;
  gint64 start;
  CsThreadPool *prev_pool = cs_thread_pool_get_current ();
  gboolean ok = TRUE;

  memset (result, 0, sizeof *result);
  result->epoch = self->epoch;
  cs_thread_pool_set_current (self->pool);
  cs_thread_pool_set_active (self->pool, TRUE);
  cs_rng_shuffle (&self->rng, self->order, train->n);
  start = g_get_monotonic_time ();

  for (int b = 0; b < n_batches; b++)
    {
      int B = (int) MIN ((guint) bs, train->n - (guint) b * bs);
      const float *out;
      double loss;

      cs_data_split_to_float (train, self->order + (gsize) b * bs, B, self->x, self->y);
      memcpy (self->state_backup, params + n_params, n_state * sizeof (float));
      out = cs_model_forward (self->model, self->x, B, TRUE, &self->rng);
      loss = cs_model_loss (self->model, self->y, B, TRUE);
      /* A classifier's mean cross-entropy starts near log(10) = 2.3; a batch
       * loss past CS_LOSS_EXPLODED means the weights have blown up, and NaN
       * follows soon after. Either way the run cannot recover. */
      if (!isfinite (loss) || loss > CS_LOSS_EXPLODED)
        {
          /* The step that produced this loss is undone: the last good weights stay. */
          if (cs_optim_get_step (self->optim) > 0)
            memcpy (params, self->backup, n_params * sizeof (float));
          /* and the running statistics this batch moved (they may be NaN now) */
          memcpy (params + n_params, self->state_backup, n_state * sizeof (float));
          if (isfinite (loss))
            g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_DIVERGED,
                         "loss exploded to %.3g at epoch %d, batch %d (lr %g is likely too high)",
                         loss, self->epoch + 1, b + 1, self->hp.optim.lr);
          else
            g_set_error (error, CS_TRAIN_ERROR, CS_TRAIN_ERROR_DIVERGED,
                         "loss became %s at epoch %d, batch %d (lr %g is likely too high)",
                         isnan (loss) ? "NaN" : "infinite", self->epoch + 1, b + 1, self->hp.optim.lr);
          ok = FALSE;
          break;
        }
      for (int s = 0; s < B; s++)
        if (argmax_row (out + (gsize) s * n_out, n_out) == self->y[s])
          correct++;
      seen += B;
      loss_sum += loss * B;

      /* One pass: the weights as they were into backup, the step, the gradients cleared. */
      cs_optim_step_consume (self->optim, params, cs_model_grads (self->model), self->backup);
      cs_model_grads_zeroed (self->model);

      if (func != NULL && !func (self->epoch, b, n_batches, loss, user_data))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "stopped at epoch %d, batch %d", self->epoch, b);
          ok = FALSE;
          break;
        }
    }

  if (!ok)
    {
      cs_thread_pool_set_active (self->pool, FALSE);
      cs_thread_pool_set_current (prev_pool);
      return FALSE;
    }

  result->seconds = (g_get_monotonic_time () - start) / 1e6;
  result->samples_per_sec = result->seconds > 0 ? seen / result->seconds : 0;
  result->train_loss = seen ? loss_sum / seen : 0;
  result->train_acc = seen ? 100.0 * correct / seen : 0;

  cs_evaluate (self->model, &self->data->test, bs, result);
  result->epoch = self->epoch;
  self->epoch++;
  cs_thread_pool_set_active (self->pool, FALSE);
  cs_thread_pool_set_current (prev_pool);
  return TRUE;
}
