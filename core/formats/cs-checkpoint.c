/* Checkpoints: a file of either format opened as a model's weights, and a
 * model's weights (with its optimizer's state) saved as safetensors. */

#define G_LOG_DOMAIN "cs-checkpoint"

#include "config.h"

#include <math.h>
#include <string.h>

#include "base/cs-atomic-file.h"
#include "base/cs-file.h"
#include "formats/cs-checkpoint.h"
#include "formats/cs-pth.h"
#include "formats/cs-safetensors.h"
#include "nn/cs-presets.h"

static char *
optimizer_path (const char *path)
{
  if (g_str_has_suffix (path, ".safetensors"))
    {
      g_autofree char *stem = g_strndup (path, strlen (path) - strlen (".safetensors"));
      return g_strconcat (stem, ".optimizer.safetensors", NULL);
    }
  return g_strconcat (path, ".optimizer.safetensors", NULL);
}

GHashTable *
cs_checkpoint_metadata_new (const CsSpec *spec,
                            const char   *model)
{
  GHashTable *meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_return_val_if_fail (spec != NULL, meta);

  g_hash_table_insert (meta, (char *) "format", g_strdup ("convscope"));
  g_hash_table_insert (meta, (char *) "convscope_version", g_strdup (PACKAGE_VERSION));
  g_hash_table_insert (meta, (char *) "spec", g_strdup (spec->text));
  if (model != NULL)
    g_hash_table_insert (meta, (char *) "model", g_strdup (model));
  return meta;
}

gboolean
cs_checkpoint_save (const char *path,
                    CsModel    *model,
                    CsOptim    *optim,
                    GHashTable *metadata,
                    GError    **error)
{
  return cs_checkpoint_save_full (path, model, optim, metadata, CS_WRITE_RUNS_DIR, error);
}

gboolean
cs_checkpoint_save_full (const char   *path,
                         CsModel      *model,
                         CsOptim      *optim,
                         GHashTable   *metadata,
                         CsWriteFlags  flags,
                         GError      **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (model != NULL, FALSE);

  guint n = cs_model_n_tensors (model);
  g_autofree CsTensorRef *refs = g_new0 (CsTensorRef, n);
  float *params = cs_model_params (model);

  for (guint i = 0; i < n; i++)
    {
      const CsParam *p = cs_model_tensor (model, i);
      refs[i] = (CsTensorRef) { p->name, p->ndim, p->shape, params + p->offset, (p->flags & CS_PARAM_INT64) != 0 };
    }

  /* The optimizer's state first: a crash between the two writes leaves a
   * model file that matches the optimizer state of the run one step later
   * at worst, never a model without its state. */
  if (optim != NULL)
    {
      g_autofree char *opath = optimizer_path (path);
      g_autoptr(GHashTable) ometa = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_autofree CsTensorRef *orefs = g_new0 (CsTensorRef, 2 * n);
      float *second = NULL;
      float *first = cs_optim_get_state (optim, &second);
      guint k = 0;

      g_hash_table_insert (ometa, (char *) "step",
                           g_strdup_printf ("%" G_GINT64_FORMAT, cs_optim_get_step (optim)));
      for (guint i = 0; i < n && first != NULL; i++)
        {
          const CsParam *p = cs_model_tensor (model, i);
          char *name;

          if (p->flags & CS_PARAM_STATE)
            continue;
          name = g_strconcat (second ? "exp_avg." : "momentum_buffer.", p->name, NULL);

          g_ptr_array_add (names, name);
          orefs[k++] = (CsTensorRef) { name, p->ndim, p->shape, first + p->offset };
          if (second != NULL)
            {
              name = g_strconcat ("exp_avg_sq.", p->name, NULL);
              g_ptr_array_add (names, name);
              orefs[k++] = (CsTensorRef) { name, p->ndim, p->shape, second + p->offset };
            }
        }
      if (!cs_safetensors_write (opath, orefs, k, ometa, flags, error))
        return FALSE;
    }

  return cs_safetensors_write (path, refs, n, metadata, flags, error);
}

/* ---- reading ------------------------------------------------------------ */

static CsCheckpoint *
parse_bytes (const guint8 *data,
             gsize         len,
             const char   *path,
             GError      **error)
{
  if (len >= 4 && memcmp (data, "PK\003\004", 4) == 0)
    return cs_pth_parse (data, len, path, error);
  if (len >= 2 && data[0] == 0x80 && data[1] <= 5)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                   "%s: a legacy PyTorch file (before torch 1.6); load it in PyTorch and save it again "
                   "with torch.save(state_dict, path)", path);
      return NULL;
    }
  if (len >= 9 && data[8] == '{')
    return cs_safetensors_parse (data, len, path, error);
  if (len == 0)
    g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, "%s: the file is empty", path);
  else
    g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                 "%s: neither a safetensors file nor a PyTorch .pth", path);
  return NULL;
}

CsCheckpoint *
cs_checkpoint_load (const char  *path,
                    GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GMappedFile) mapped = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  /* Opened without blocking and checked to be a regular file on the descriptor itself. */
  mapped = cs_file_map_regular (path, G_MAXUINT64, &local_error);
  if (mapped == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, "%s", local_error->message);
      return NULL;
    }
  return parse_bytes ((const guint8 *) g_mapped_file_get_contents (mapped), g_mapped_file_get_length (mapped),
                      path, error);
}

CsCheckpoint *
cs_checkpoint_load_bytes (GBytes      *bytes,
                          const char  *name,
                          GError     **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return parse_bytes (data, len, name, error);
}

CsCheckpoint *
cs_checkpoint_load_bundled (GError **error)
{
  g_autoptr(GBytes) bytes = g_resources_lookup_data (CS_BUNDLED_MODEL_RESOURCE, 0, NULL);

  if (bytes == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO,
                   "the bundled LeNet-5 is not in this program; give a checkpoint with --checkpoint FILE");
      return NULL;
    }
  return cs_checkpoint_load_bytes (bytes, "bundled LeNet-5", error);
}

static gboolean
tensors_match (const CsCheckpoint *self,
               const CsModel      *model)
{
  guint n_float = 0;

  for (guint i = 0; i < self->tensors->len; i++)
    if (((CsTensor *) g_ptr_array_index (self->tensors, i))->data != NULL ||
        ((CsTensor *) g_ptr_array_index (self->tensors, i))->ints != NULL)
      n_float++;
  if (n_float != cs_model_n_tensors (model))
    return FALSE;
  for (guint i = 0; i < cs_model_n_tensors (model); i++)
    {
      const CsParam *p = cs_model_tensor (model, i);
      const CsTensor *t = cs_checkpoint_find (self, p->name);

      if (t == NULL || (t->data == NULL && t->ints == NULL) || t->ndim != p->ndim)
        return FALSE;
      for (int d = 0; d < p->ndim; d++)
        if (t->shape[d] != p->shape[d])
          return FALSE;
    }
  return TRUE;
}

CsSpec *
cs_checkpoint_infer_spec (const CsCheckpoint *self,
                          const char         *model_hint,
                          char              **model_name,
                          GError            **error)
{
  g_return_val_if_fail (self != NULL, NULL);

  const char *meta_spec = g_hash_table_lookup (self->metadata, "spec");
  guint n_presets;
  const CsPreset *presets;
  g_autoptr(GString) found = NULL;

  if (model_hint != NULL)
    {
      if (model_name)
        *model_name = g_strdup (model_hint);
      return cs_spec_for_model (model_hint, error);
    }
  if (meta_spec != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      CsSpec *spec = cs_spec_parse (meta_spec, &local_error);
      const char *m = g_hash_table_lookup (self->metadata, "model");

      if (spec == NULL)
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                       "%s: the spec in its metadata does not parse: %s", self->path, local_error->message);
          return NULL;
        }
      /* The file must hold the weights its spec asks for: a few bytes of
       * metadata must not make us allocate a model of 100M parameters. */
      {
        guint64 have = 0, need = cs_spec_n_params (spec) + cs_spec_n_state (spec);
        for (guint i = 0; i < self->tensors->len; i++)
          {
            const CsTensor *t = g_ptr_array_index (self->tensors, i);
            if (t->data != NULL)
              have += t->numel;
          }
        if (need != have)
          {
            g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
                         "%s: the spec in its metadata has %" G_GUINT64_FORMAT " parameters but the file holds %"
                         G_GUINT64_FORMAT " weights", self->path, need, have);
            cs_spec_free (spec);
            return NULL;
          }
      }
      if (model_name)
        *model_name = g_strdup (m ? m : "spec from the checkpoint");
      return spec;
    }

  /* No spec: the preset whose tensor names and shapes are exactly these. */
  presets = cs_presets (&n_presets);
  for (guint i = 0; i < n_presets; i++)
    {
      g_autoptr(CsSpec) spec = cs_spec_for_model (presets[i].name, NULL);
      g_autoptr(CsModel) model = NULL;

      if (spec == NULL)
        continue;
      model = cs_model_new (spec);
      if (tensors_match (self, model))
        {
          if (model_name)
            *model_name = g_strdup (presets[i].name);
          return g_steal_pointer (&spec);
        }
    }

  found = g_string_new (NULL);
  for (guint i = 0; i < self->tensors->len; i++)
    {
      const CsTensor *t = g_ptr_array_index (self->tensors, i);
      g_autofree char *shape = cs_tensor_shape_string (t->shape, t->ndim);
      g_string_append_printf (found, "%s%s %s", i ? ", " : "", t->name, shape);
    }
  g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
               "%s: no preset has these tensors (%s); name the model with --model FILE.spec or --model MODEL.py (the class that saved it)",
               self->path, self->tensors->len ? found->str : "none");
  return NULL;
}

gboolean
cs_checkpoint_apply (const CsCheckpoint *self,
                     CsModel            *model,
                     GError            **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (model != NULL, FALSE);

  float *params = cs_model_params (model);

  for (guint i = 0; i < cs_model_n_tensors (model); i++)
    {
      const CsParam *p = cs_model_tensor (model, i);
      const CsTensor *t = cs_checkpoint_find (self, p->name);
      g_autofree char *want = cs_tensor_shape_string (p->shape, p->ndim);
      gboolean same = t != NULL && t->ndim == p->ndim;

      if (t == NULL)
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
                       "%s: the model needs %s %s, which the file does not have", self->path, p->name, want);
          return FALSE;
        }
      for (int d = 0; same && d < p->ndim; d++)
        same = t->shape[d] == p->shape[d];
      if (!same)
        {
          g_autofree char *have = cs_tensor_shape_string (t->shape, t->ndim);
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
                       "%s: %s: the file has %s, the model expects %s", self->path, p->name, have, want);
          return FALSE;
        }
      if ((p->flags & CS_PARAM_INT64) && t->ints == NULL && t->data == NULL)
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
                       "%s: %s is stored as %s, not as an integer", self->path, p->name, t->dtype);
          return FALSE;
        }
      if ((p->flags & CS_PARAM_INT64) && t->ints != NULL)
        {
          if (t->ints[0] < 0 || t->ints[0] > (1 << 24))
            {
              g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                           "%s: %s is %" G_GINT64_FORMAT ", not a count of batches Convscope can keep (0 to %d)",
                           self->path, p->name, t->ints[0], 1 << 24);
              return FALSE;
            }
          continue;
        }
      if (t->data == NULL)
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
                       "%s: %s is stored as %s, not as floating point", self->path, p->name, t->dtype);
          return FALSE;
        }
      {
        gsize bad = 0, first = 0;
        for (gsize k = 0; k < t->numel; k++)
          if (!isfinite (t->data[k]) && bad++ == 0)
            first = k;
        if (bad > 0)
          {
            g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                         "%s: %s holds %" G_GSIZE_FORMAT " NaN or infinite value%s (the first at element %"
                         G_GSIZE_FORMAT "); the training that wrote it diverged", self->path, p->name, bad,
                         bad == 1 ? "" : "s", first);
            return FALSE;
          }
      }
    }
  for (guint i = 0; i < self->tensors->len; i++)
    {
      const CsTensor *t = g_ptr_array_index (self->tensors, i);
      if (cs_model_find_tensor (model, t->name) == NULL)
        {
          g_autofree char *have = cs_tensor_shape_string (t->shape, t->ndim);
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_MISMATCH,
                       "%s: %s %s is in the file but not in the model", self->path, t->name, have);
          return FALSE;
        }
    }
  for (guint i = 0; i < cs_model_n_tensors (model); i++)
    {
      const CsParam *p = cs_model_tensor (model, i);
      const CsTensor *t = cs_checkpoint_find (self, p->name);
      if (t->data != NULL)
        memcpy (params + p->offset, t->data, p->numel * sizeof (float));
      else
        for (gsize k = 0; k < p->numel; k++)
          params[p->offset + k] = (float) t->ints[k];
    }
  return TRUE;
}

CsModel *
cs_checkpoint_to_model (const CsCheckpoint *self,
                        const char         *model_hint,
                        GError            **error)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_autoptr(CsSpec) spec = cs_checkpoint_infer_spec (self, model_hint, NULL, error);
  g_autoptr(CsModel) model = NULL;

  if (spec == NULL)
    return NULL;
  model = cs_model_new (spec);
  if (!cs_checkpoint_apply (self, model, error))
    return NULL;
  return g_steal_pointer (&model);
}
