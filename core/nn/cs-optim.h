/* Optimizers with PyTorch's update rules: SGD (momentum, weight decay) and Adam (bias-corrected). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CS_OPTIM_SGD,
  CS_OPTIM_ADAM,
} CsOptimKind;

typedef struct
{
  CsOptimKind kind;
  double      lr;
  double      momentum;      /* SGD */
  double      weight_decay;
  double      beta1;         /* Adam */
  double      beta2;
  double      eps;
} CsOptimConfig;

typedef struct _CsOptim CsOptim;

void         cs_optim_config_defaults (CsOptimConfig       *config,
                                       CsOptimKind          kind);
const char  *cs_optim_kind_name       (CsOptimKind          kind);
CsOptim     *cs_optim_new             (const CsOptimConfig *config,
                                       gsize                n_params) G_GNUC_WARN_UNUSED_RESULT;
void         cs_optim_free            (CsOptim             *self);
void         cs_optim_step            (CsOptim             *self,
                                       float               *params,
                                       const float         *grads);
/* The same step in one pass over memory that also copies the parameters as
 * they were into @backup (unless NULL) and sets @grads to zero, as a training
 * loop wants them next (cs_model_grads_zeroed()). */
void         cs_optim_step_consume    (CsOptim             *self,
                                       float               *params,
                                       float               *grads,
                                       float               *backup);
gint64       cs_optim_get_step        (const CsOptim       *self);
/* Moments: SGD's momentum buffer in @first; Adam's exp_avg and exp_avg_sq. */
float       *cs_optim_get_state       (CsOptim             *self,
                                       float              **second);
void         cs_optim_set_step        (CsOptim             *self,
                                       gint64               step);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsOptim, cs_optim_free)

G_END_DECLS
