/* Checkpoints: the safetensors writer and the atomic file replacement every save goes through. */

#define G_LOG_DOMAIN "cs-checkpoint"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/cs-checkpoint-private.h"
#include "base/cs-file.h"
#include "spec/cs-presets.h"
#include "base/cs-sync.h"

G_DEFINE_QUARK (cs-checkpoint-error-quark, cs_checkpoint_error)

/* Write failures injected by the tests (full disk after N bytes). Every
 * writer thread checks fault_armed; the rest is only touched under the lock,
 * and only while armed. */
static gint   fault_armed;
static GMutex fault_lock;
static gsize  fault_after;
static int    fault_errno;
static gsize  fault_written;

void
cs_checkpoint_inject_write_failure (gsize bytes,
                                    int   errnum)
{
  cs_mutex_lock (&fault_lock);
  fault_after = bytes;
  fault_errno = errnum;
  fault_written = 0;
  g_atomic_int_set (&fault_armed, bytes > 0);
  cs_mutex_unlock (&fault_lock);
}

/* Whether the injected failure stops this write: if so, part of it is written and *err set. */
static gboolean
injected_failure (int          fd,
                  const guint8 *p,
                  gsize        len,
                  int         *err)
{
  gboolean fail = FALSE;

  if (!g_atomic_int_get (&fault_armed))
    return FALSE;
  cs_mutex_lock (&fault_lock);
  if (fault_after > 0 && fault_written + len > fault_after)
    {
      /* Part of the data, then the failure. */
      gsize part = fault_after > fault_written ? fault_after - fault_written : 0;
      if (part > 0 && write (fd, p, part) > 0)
        fault_written += part;
      *err = fault_errno;
      fail = TRUE;
    }
  cs_mutex_unlock (&fault_lock);
  return fail;
}

static void
injected_count (gsize n)
{
  if (!g_atomic_int_get (&fault_armed))
    return;
  cs_mutex_lock (&fault_lock);
  fault_written += n;
  cs_mutex_unlock (&fault_lock);
}

static gboolean
write_all (int          fd,
           const void  *data,
           gsize        len,
           int         *err)
{
  const guint8 *p = data;

  while (len > 0)
    {
      gssize n;

      if (injected_failure (fd, p, len, err))
        return FALSE;
      n = write (fd, p, MIN (len, (gsize) 1 << 30));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *err = errno;
          return FALSE;
        }
      injected_count (n);
      p += n;
      len -= n;
    }
  return TRUE;
}

/* Writes into a device, a FIFO or a socket the user named (-o /dev/stdout,
 * /dev/null, /dev/full): in place, since renaming over it would replace the
 * node with a regular file. */
static gboolean
write_special (const char  *path,
               const void  *data,
               gsize        len,
               GError     **error)
{
  int fd = open (path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK), err = 0, flags;

  if (fd < 0)
    {
      err = errno;
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, "could not write %s: %s", path,
                   err == ENXIO ? "a FIFO with no reader" : g_strerror (err));
      return FALSE;
    }
  /* Opened without blocking (a FIFO with no reader); written blocking. */
  flags = fcntl (fd, F_GETFL);
  if (flags >= 0)
    fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  if (!write_all (fd, data, len, &err))
    {
      close (fd);
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, "could not write %s: %s", path,
                   g_strerror (err));
      return FALSE;
    }
  if (close (fd) != 0)
    {
      err = errno;
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, "could not write %s: %s", path,
                   g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_file_full (const char    *path,
                 const void    *data,
                 gsize          len,
                 CsWriteFlags   flags,
                 int            links,
                 GError       **error)
{
  struct stat st;

  if (lstat (path, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, "could not save %s: it is a directory", path);
          return FALSE;
        }
      if (S_ISLNK (st.st_mode) && (flags & CS_WRITE_USER_PATH))
        {
          /* The user's link: replace what it points to, and keep the link. */
          g_autoptr(GError) local_error = NULL;
          g_autofree char *target = g_file_read_link (path, &local_error);
          g_autofree char *dir = g_path_get_dirname (path);
          g_autofree char *resolved = NULL;

          if (target == NULL)
            {
              g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, "could not save %s: %s", path,
                           local_error->message);
              return FALSE;
            }
          if (links >= 16)
            {
              g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO,
                           "could not save %s: too many levels of symbolic links", path);
              return FALSE;
            }
          resolved = g_path_is_absolute (target) ? g_steal_pointer (&target) : g_build_filename (dir, target, NULL);
          return write_file_full (resolved, data, len, flags, links + 1, error);
        }
      if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode) && (flags & CS_WRITE_USER_PATH))
        return write_special (path, data, len, error);
      /* Inside the runs directory a link or a node someone planted is
       * replaced by the rename below, never written through. */
    }
  return cs_write_file_atomic (path, data, len, error);
}

gboolean
cs_write_file_full (const char    *path,
                    const void    *data,
                    gsize          len,
                    CsWriteFlags   flags,
                    GError       **error)
{
  g_return_val_if_fail (path != NULL, FALSE);

  return write_file_full (path, data, len, flags, 0, error);
}

/* The temporary file cs_write_file_atomic() writes before its rename: ".NAME" + this. */
#define TEMP_SUFFIX ".XXXXXX"

gboolean
cs_write_file_is_temp_name (const char *name)
{
  gsize n, k = strlen (TEMP_SUFFIX) - 1;   /* the X's mkstemp replaces */
  const char *dot;

  g_return_val_if_fail (name != NULL, FALSE);

  n = strlen (name);
  if (name[0] != '.' || n < 3 + k || (dot = strrchr (name, '.')) == name || dot != name + n - k - 1)
    return FALSE;
  for (gsize i = 1; i <= k; i++)
    if (!g_ascii_isalnum (dot[i]))
      return FALSE;
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
  g_autofree char *tmp = g_strdup_printf ("%s/." "%s" TEMP_SUFFIX, dir, base);
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
                      CsWriteFlags       flags,
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

  return cs_write_file_full (path, file->data, file->len, flags, error);
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
      for (guint i = 0; i < n && first != NULL; i++)
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
      if (!cs_safetensors_write (opath, orefs, k, ometa, flags, error))
        return FALSE;
    }

  return cs_safetensors_write (path, refs, n, metadata, flags, error);
}

/* ---- reading ------------------------------------------------------------ */

CsCheckpoint *
cs_checkpoint_new_empty (const char *path,
                         const char *format)
{
  CsCheckpoint *self = g_new0 (CsCheckpoint, 1);

  self->path = g_strdup (path);
  self->format = g_strdup (format);
  self->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) cs_tensor_free);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return self;
}

void
cs_checkpoint_add_tensor (CsCheckpoint *self,
                          CsTensor     *t)
{
  g_assert (!g_hash_table_contains (self->by_name, t->name));
  g_ptr_array_add (self->tensors, t);
  g_hash_table_insert (self->by_name, t->name, t);
}

void
cs_tensor_free (CsTensor *t)
{
  g_free (t->name);
  g_free (t->dtype);
  g_free (t->data);
  g_free (t);
}

void
cs_checkpoint_free (CsCheckpoint *self)
{
  if (self == NULL)
    return;
  g_free (self->path);
  g_free (self->format);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->tensors, g_ptr_array_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  g_free (self);
}

gsize
cs_dtype_size (const char *dtype)
{
  static const struct { const char *name; gsize size; } sizes[] = {
    { "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
    { "I16", 2 }, { "U16", 2 }, { "F16", 2 }, { "BF16", 2 },
    { "I32", 4 }, { "U32", 4 }, { "F32", 4 },
    { "F64", 8 }, { "I64", 8 }, { "U64", 8 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    if (g_str_equal (sizes[i].name, dtype))
      return sizes[i].size;
  return 0;
}

static float
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  float f;

  if (exp == 0)
    {
      /* zero or subnormal: mant * 2^-24 */
      f = (float) mant / 16777216.0f;
      return sign ? -f : f;
    }
  if (exp == 31)
    bits = sign | 0x7f800000 | (mant << 13);
  else
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  memcpy (&f, &bits, 4);
  return f;
}

float *
cs_tensor_convert (const guint8 *src,
                   const char   *dtype,
                   gsize         numel)
{
  float *out;

  if (!g_str_equal (dtype, "F32") && !g_str_equal (dtype, "F64") && !g_str_equal (dtype, "F16") &&
      !g_str_equal (dtype, "BF16"))
    return NULL;
  out = g_new (float, MAX (numel, 1));
  for (gsize i = 0; i < numel; i++)
    {
      if (g_str_equal (dtype, "F32"))
        {
          guint32 v;
          memcpy (&v, src + 4 * i, 4);
          v = GUINT32_FROM_LE (v);
          memcpy (&out[i], &v, 4);
        }
      else if (g_str_equal (dtype, "F64"))
        {
          guint64 v;
          double d;
          memcpy (&v, src + 8 * i, 8);
          v = GUINT64_FROM_LE (v);
          memcpy (&d, &v, 8);
          out[i] = (float) d;
        }
      else if (g_str_equal (dtype, "F16"))
        out[i] = half_to_float ((guint16) (src[2 * i] | (src[2 * i + 1] << 8)));
      else
        {
          guint32 v = (guint32) (src[2 * i] | (src[2 * i + 1] << 8)) << 16;
          memcpy (&out[i], &v, 4);
        }
    }
  return out;
}

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

const CsTensor *
cs_checkpoint_find (const CsCheckpoint *self,
                    const char         *name)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return g_hash_table_lookup (self->by_name, name);
}

char *
cs_tensor_shape_string (const int *shape,
                        int        ndim)
{
  GString *s = g_string_new ("[");

  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%d", d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
tensors_match (const CsCheckpoint *self,
               const CsModel      *model)
{
  guint n_float = 0;

  for (guint i = 0; i < self->tensors->len; i++)
    if (((CsTensor *) g_ptr_array_index (self->tensors, i))->data != NULL)
      n_float++;
  if (n_float != cs_model_n_tensors (model))
    return FALSE;
  for (guint i = 0; i < cs_model_n_tensors (model); i++)
    {
      const CsParam *p = cs_model_tensor (model, i);
      const CsTensor *t = cs_checkpoint_find (self, p->name);

      if (t == NULL || t->data == NULL || t->ndim != p->ndim)
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
        guint64 have = 0, need = cs_spec_n_params (spec);
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
               "%s: no preset has these tensors (%s); name the model with --model FILE.spec",
               self->path, self->tensors->len ? found->str : "none");
  return NULL;
}

gboolean
cs_checkpoint_apply (const CsCheckpoint *self,
                     CsModel            *model,
                     GError            **error)
{
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
      memcpy (params + p->offset, t->data, p->numel * sizeof (float));
    }
  return TRUE;
}

CsModel *
cs_checkpoint_to_model (const CsCheckpoint *self,
                        const char         *model_hint,
                        GError            **error)
{
  g_autoptr(CsSpec) spec = cs_checkpoint_infer_spec (self, model_hint, NULL, error);
  g_autoptr(CsModel) model = NULL;

  if (spec == NULL)
    return NULL;
  model = cs_model_new (spec);
  if (!cs_checkpoint_apply (self, model, error))
    return NULL;
  return g_steal_pointer (&model);
}
