/* The notebook's models as shipped specs, with the notebook's training settings. */
#pragma once

#include "nn/cs-optim.h"
#include "spec/cs-spec.h"

G_BEGIN_DECLS

typedef struct
{
  const char  *name;
  const char  *title;
  const char  *class_name;   /* as torchinfo's top row names the model */
  const char  *description;
  CsOptimKind  optimizer;
  double       lr;
} CsPreset;

const CsPreset  *cs_presets              (guint        *n_presets);
const CsPreset  *cs_preset_lookup        (const char   *name);
char            *cs_preset_text          (const char   *model,
                                          GError      **error) G_GNUC_WARN_UNUSED_RESULT;
CsSpec          *cs_spec_for_model       (const char   *model,
                                          GError      **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
