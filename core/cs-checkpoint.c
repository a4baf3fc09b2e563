/* Checkpoints: the safetensors writer and the atomic file replacement every save goes through. */

#define G_LOG_DOMAIN "cs-checkpoint"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "cs-checkpoint.h"

G_DEFINE_QUARK (cs-checkpoint-error-quark, cs_checkpoint_error)

static gboolean
write_all (int          fd,
           const void  *data,
           gsize        len,
           int         *err)
{
  const guint8 *p = data;

  while (len > 0)
    {
      gssize n = write (fd, p, MIN (len, (gsize) 1 << 30));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *err = errno;
          return FALSE;
        }
      p += n;
      len -= n;
    }
  return TRUE;
}

gboolean
cs_write_file_atomic (const char  *path,
                      const void  *data,
                      gsize        len,
                      GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  int fd, err = 0, dfd;

  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      err = errno;
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO,
                   "could not save %s: %s", path, g_strerror (err));
      return FALSE;
    }
  if (!write_all (fd, data, len, &err) || fsync (fd) != 0)
    {
      if (err == 0)
        err = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO,
                   "could not save %s: %s (the previous file is intact)", path, g_strerror (err));
      return FALSE;
    }
  if (close (fd) != 0 || g_rename (tmp, path) != 0)
    {
      err = errno;
      g_unlink (tmp);
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO,
                   "could not save %s: %s (the previous file is intact)", path, g_strerror (err));
      return FALSE;
    }
  /* The rename itself is durable once the directory is synced. */
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      fsync (dfd);
      close (dfd);
    }
  return TRUE;
}

gboolean
cs_safetensors_write (const char        *path,
                      const CsTensorRef *tensors,
                      guint              n_tensors,
                      GHashTable        *metadata,
                      GError           **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GByteArray) file = g_byte_array_new ();
  g_autofree char *header = NULL;
  gsize header_len, padded, offset = 0;
  guint64 n_le;

  json_builder_begin_object (builder);
  if (metadata != NULL && g_hash_table_size (metadata) > 0)
    {
      g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (metadata), (GCompareFunc) strcmp);

      json_builder_set_member_name (builder, "__metadata__");
      json_builder_begin_object (builder);
      for (GList *l = keys; l; l = l->next)
        {
          json_builder_set_member_name (builder, l->data);
          json_builder_add_string_value (builder, g_hash_table_lookup (metadata, l->data));
        }
      json_builder_end_object (builder);
    }
  for (guint t = 0; t < n_tensors; t++)
    {
      gsize numel = 1;

      for (int d = 0; d < tensors[t].ndim; d++)
        numel *= tensors[t].shape[d];
      json_builder_set_member_name (builder, tensors[t].name);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "dtype");
      json_builder_add_string_value (builder, "F32");
      json_builder_set_member_name (builder, "shape");
      json_builder_begin_array (builder);
      for (int d = 0; d < tensors[t].ndim; d++)
        json_builder_add_int_value (builder, tensors[t].shape[d]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "data_offsets");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, (gint64) offset);
      json_builder_add_int_value (builder, (gint64) (offset + numel * 4));
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      offset += numel * 4;
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (gen, root);
  header = json_generator_to_data (gen, &header_len);
  /* Pad the header with spaces so the data starts 8-byte aligned. */
  padded = (header_len + 7) & ~(gsize) 7;

  n_le = GUINT64_TO_LE ((guint64) padded);
  g_byte_array_append (file, (const guint8 *) &n_le, 8);
  g_byte_array_append (file, (const guint8 *) header, header_len);
  for (gsize i = header_len; i < padded; i++)
    g_byte_array_append (file, (const guint8 *) " ", 1);
  for (guint t = 0; t < n_tensors; t++)
    {
      gsize numel = 1;

      for (int d = 0; d < tensors[t].ndim; d++)
        numel *= tensors[t].shape[d];
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
      g_byte_array_append (file, (const guint8 *) tensors[t].data, numel * 4);
#else
      for (gsize i = 0; i < numel; i++)
        {
          guint32 v;
          memcpy (&v, tensors[t].data + i, 4);
          v = GUINT32_TO_LE (v);
          g_byte_array_append (file, (const guint8 *) &v, 4);
        }
#endif
    }

  return cs_write_file_atomic (path, file->data, file->len, error);
}

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

gboolean
cs_checkpoint_save (const char *path,
                    CsModel    *model,
                    CsOptim    *optim,
                    GHashTable *metadata,
                    GError    **error)
{
  guint n = cs_model_n_tensors (model);
  g_autofree CsTensorRef *refs = g_new0 (CsTensorRef, n);
  float *params = cs_model_params (model);

  for (guint i = 0; i < n; i++)
    {
      const CsParam *p = cs_model_tensor (model, i);
      refs[i] = (CsTensorRef) { p->name, p->ndim, p->shape, params + p->offset };
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
      for (guint i = 0; i < n; i++)
        {
          const CsParam *p = cs_model_tensor (model, i);
          char *name = g_strconcat (second ? "exp_avg." : "momentum_buffer.", p->name, NULL);

          g_ptr_array_add (names, name);
          orefs[k++] = (CsTensorRef) { name, p->ndim, p->shape, first + p->offset };
          if (second != NULL)
            {
              name = g_strconcat ("exp_avg_sq.", p->name, NULL);
              g_ptr_array_add (names, name);
              orefs[k++] = (CsTensorRef) { name, p->ndim, p->shape, second + p->offset };
            }
        }
      if (!cs_safetensors_write (opath, orefs, k, ometa, error))
        return FALSE;
    }

  return cs_safetensors_write (path, refs, n, metadata, error);
}
