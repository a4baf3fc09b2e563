/* One training run's engine: model, optimizer, data order; trains an epoch, evaluates a split. */
#pragma once

#include <gio/gio.h>

#include "data/cs-dataset.h"
#include "nn/cs-model.h"
#include "nn/cs-optim.h"
#include "base/cs-thread-pool.h"

G_BEGIN_DECLS

#define CS_TRAIN_ERROR (cs_train_error_quark ())

typedef enum
{
  CS_TRAIN_ERROR_INVALID,     /* hyperparameters or data that cannot work */
  CS_TRAIN_ERROR_DIVERGED,    /* the loss became NaN or infinite */
} CsTrainError;

typedef struct
{
  CsOptimConfig optim;
  int           epochs;
  int           batch_size;
  int           threads;
  guint64       seed;
} CsHyperParams;

typedef struct
{
  int     epoch;
  double  train_loss;
  double  train_acc;       /* percent, over the epoch's batches as they were trained */
  double  test_loss;
  double  test_acc;        /* percent */
  double  class_acc[CS_N_CLASSES];
  guint   confusion[CS_N_CLASSES][CS_N_CLASSES];   /* [true][predicted] */
  double  seconds;         /* training time of the epoch (evaluation excluded) */
  double  samples_per_sec;
} CsEpochResult;

/* Whether @result's test accuracy is no better than guessing among the
 * classes (at most 1.5 times chance): a run that ends there did not learn. */
gboolean       cs_run_result_is_chance    (const CsEpochResult *result);

/* Called after every batch from the training thread; return FALSE to stop. */
typedef gboolean (*CsBatchFunc) (int      epoch,
                                 int      batch,
                                 int      n_batches,
                                 double   loss,
                                 gpointer user_data);

typedef struct _CsTrainer CsTrainer;

GQuark         cs_train_error_quark       (void);

void           cs_hyper_params_for_preset (CsHyperParams *hp,
                                           const char    *model);
gboolean       cs_hyper_params_validate   (const CsHyperParams *hp,
                                           guint                n_train,
                                           GError             **error);

/* Whether a model of @spec takes @data's images and has an output for each of its classes. */
gboolean       cs_spec_fits_dataset       (const CsSpec    *spec,
                                           const CsDataset *data,
                                           GError         **error);
CsTrainer     *cs_trainer_new             (const CsSpec        *spec,
                                           const CsHyperParams *hp,
                                           const CsDataset     *data,
                                           GError             **error) G_GNUC_WARN_UNUSED_RESULT;
void           cs_trainer_free            (CsTrainer           *self);
CsModel       *cs_trainer_get_model       (CsTrainer           *self);
CsThreadPool        *cs_trainer_get_thread_pool        (CsTrainer           *self);
CsOptim       *cs_trainer_get_optim       (CsTrainer           *self);
int            cs_trainer_get_epoch       (const CsTrainer     *self);
int            cs_trainer_n_batches       (const CsTrainer     *self);

/* Trains one epoch over the shuffled training set, then evaluates the test set.
 * A NaN loss fails with CS_TRAIN_ERROR_DIVERGED (the weights from before the
 * bad step are restored); @func returning FALSE fails with G_IO_ERROR_CANCELLED. */
gboolean       cs_trainer_train_epoch     (CsTrainer     *self,
                                           CsBatchFunc    func,
                                           gpointer       user_data,
                                           CsEpochResult *result,
                                           GError       **error);
/* Loss, accuracy, per-class accuracy and confusion of @model on @split (eval mode). */
void           cs_evaluate                (CsModel           *model,
                                           const CsDataSplit *split,
                                           int                batch_size,
                                           CsEpochResult     *result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsTrainer, cs_trainer_free)

G_END_DECLS
