/* PyTorch's .pth (torch.save's zip format): the zip is read by cs-zip.c, the
 * pickle run by cs-pickle.c, and the tensors it names gathered here from
 * their storages, every index checked. */

#define G_LOG_DOMAIN "cs-pth"

#include "config.h"

#include <string.h>

#include "formats/cs-pickle.h"
#include "formats/cs-pth.h"
#include "formats/cs-zip.h"

static const char *
storage_dtype (const char *kind)
{
  static const struct { const char *storage, *dtype; } map[] = {
    { "Float", "F32" }, { "Double", "F64" }, { "Half", "F16" }, { "BFloat16", "BF16" },
    { "Long", "I64" }, { "Int", "I32" }, { "Short", "I16" }, { "Char", "I8" }, { "Byte", "U8" }, { "Bool", "BOOL" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_equal (map[i].storage, kind))
      return map[i].dtype;
  return NULL;
}

/* The tensor @t names, gathered from its storage into row-major float32.
 * Every index is checked before it is used: sizes and strides must be
 * non-negative, the furthest element (offset + sum (size - 1) * stride,
 * computed without wrapping) must lie in the storage, and the tensor may not
 * have more elements than its storage (a stride-0 view such as expand() would
 * turn one float into gigabytes; state_dicts never hold one). @budget is what
 * all the tensors together may still take, in bytes. */
static CsTensor *
materialize (CsPickleObj *t,
             const char  *name,
             GHashTable  *entries,
             const char  *root,
             const char  *path,
             gsize       *budget,
             GError     **error)
{
  g_autofree char *entry_name = g_strdup_printf ("%s/data/%s", root, t->storage->s);
  g_autofree guint8 *dense = NULL;
  const char *dtype = storage_dtype (t->storage->s2);
  CsZipEntry *e = g_hash_table_lookup (entries, entry_name);
  CsTensor *out;
  gsize elem, numel = 1, out_bytes;
  guint64 max_index = (guint64) t->offset;
  int ndim = (int) t->size->len;
  gint64 idx[8] = { 0 };

  if (dtype == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                   "%s: tensor %s has an unsupported storage type %sStorage", path, name, t->storage->s2);
      return NULL;
    }
  elem = cs_dtype_size (dtype);
  if (e == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s needs the zip entry %s, which is missing", path, name, entry_name);
      return NULL;
    }
  if ((guint64) t->storage->i > e->size / elem)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: storage %s should hold %" G_GINT64_FORMAT " elements but its entry has %" G_GUINT64_FORMAT " bytes",
                   path, t->storage->s, t->storage->i, e->size);
      return NULL;
    }
  for (int d = 0; d < ndim; d++)
    {
      gint64 sz = g_array_index (t->size, gint64, d), st = g_array_index (t->stride, gint64, d);
      guint64 reach;

      if (sz < 0 || sz > G_MAXINT32 || st < 0 || !g_size_checked_mul (&numel, numel, (gsize) sz))
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                       "%s: tensor %s has an invalid size or stride in dimension %d", path, name, d);
          return NULL;
        }
      if (sz > 0 && (!g_uint64_checked_mul (&reach, (guint64) (sz - 1), (guint64) st) ||
                     !g_uint64_checked_add (&max_index, max_index, reach)))
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                       "%s: tensor %s: its strides reach past 2^64 elements", path, name);
          return NULL;
        }
    }
  if (numel > 0 && max_index >= (guint64) t->storage->i)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s reaches element %" G_GUINT64_FORMAT " of a storage of %" G_GINT64_FORMAT,
                   path, name, max_index, t->storage->i);
      return NULL;
    }
  if (numel > (guint64) t->storage->i)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s has %" G_GSIZE_FORMAT " elements but its storage only %" G_GINT64_FORMAT
                   " (a view that repeats elements, not a saved tensor)", path, name, numel, t->storage->i);
      return NULL;
    }
  /* numel <= storage elements <= entry bytes / elem, so neither product below can wrap. */
  out_bytes = numel * sizeof (float);
  if (out_bytes > *budget)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s: the tensors would take more memory than a file of this size can hold "
                   "(views share their storage)", path, name);
      return NULL;
    }
  *budget -= out_bytes;

  /* Gather by offset and strides into row-major order. */
  dense = g_malloc (MAX (1, numel * elem));
  for (gsize k = 0; k < numel; k++)
    {
      guint64 src = (guint64) t->offset;
      for (int d = 0; d < ndim; d++)
        src += (guint64) idx[d] * (guint64) g_array_index (t->stride, gint64, d);
      g_assert (src < (guint64) t->storage->i);
      memcpy (dense + k * elem, e->data + src * elem, elem);
      for (int d = ndim - 1; d >= 0; d--)
        {
          if (++idx[d] < g_array_index (t->size, gint64, d))
            break;
          idx[d] = 0;
        }
    }

  out = g_new0 (CsTensor, 1);
  out->name = g_strdup (name);
  out->dtype = g_strdup_printf ("torch.%sStorage", t->storage->s2);
  out->ndim = ndim;
  for (int d = 0; d < ndim; d++)
    out->shape[d] = (int) g_array_index (t->size, gint64, d);
  out->numel = numel;
  out->data = cs_tensor_convert (dense, dtype, numel);
  if (out->data == NULL)
    out->ints = cs_tensor_convert_ints (dense, dtype, numel);
  return out;
}

/* A state_dict is a dict of tensors; checkpoints often nest it ({"model": ..., "optimizer": ...}). */
static CsPickleObj *
find_state_dict (CsPickleObj *o,
                 int          depth)
{
  gboolean has_tensor = FALSE;

  if (o->kind != CS_PICKLE_DICT || depth > 3)
    return NULL;
  for (guint i = 1; i < o->items->len; i += 2)
    if (((CsPickleObj *) g_ptr_array_index (o->items, i))->kind == CS_PICKLE_TENSOR)
      has_tensor = TRUE;
  if (has_tensor)
    return o;
  for (guint i = 0; i + 1 < o->items->len; i += 2)
    {
      CsPickleObj *k = g_ptr_array_index (o->items, i), *v = g_ptr_array_index (o->items, i + 1);
      if (k->kind == CS_PICKLE_STR && (g_str_equal (k->s, "state_dict") || g_str_equal (k->s, "model_state_dict") ||
                                 g_str_equal (k->s, "model")))
        {
          CsPickleObj *found = find_state_dict (v, depth + 1);
          if (found)
            return found;
        }
    }
  return NULL;
}

CsCheckpoint *
cs_pth_parse (const guint8 *data,
              gsize         len,
              const char   *path,
              GError      **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GHashTable) by_name = NULL;
  g_autoptr(CsCheckpoint) self = NULL;
  g_autofree char *root = NULL;
  g_autoptr(CsPickle) vm = NULL;
  CsZipEntry *pkl = NULL, *order;
  CsPickleObj *result, *sd;
  gsize tensor_budget;

  entries = cs_zip_read (data, len, path, error);
  if (entries == NULL)
    return NULL;
  by_name = cs_zip_index (entries, path, error);
  if (by_name == NULL)
    return NULL;
  for (guint i = 0; i < entries->len; i++)
    {
      CsZipEntry *e = g_ptr_array_index (entries, i);
      if (g_str_has_suffix (e->name, "/data.pkl") && strchr (e->name, '/') == strrchr (e->name, '/'))
        pkl = e;
    }
  if (pkl == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: a zip file, but not one torch.save wrote (no <name>/data.pkl)", path);
      return NULL;
    }
  root = g_strndup (pkl->name, strlen (pkl->name) - strlen ("/data.pkl"));
  if (cs_crc32 (pkl->data, pkl->size) != pkl->crc)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: %s is damaged (its CRC does not match)", path, pkl->name);
      return NULL;
    }
  {
    g_autofree char *bo_name = g_strdup_printf ("%s/byteorder", root);
    order = g_hash_table_lookup (by_name, bo_name);
    if (order != NULL && !(order->size == 6 && memcmp (order->data, "little", 6) == 0))
      {
        g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                     "%s: the tensors are stored big-endian, which Convscope does not read", path);
        return NULL;
      }
  }

  /* A state_dict's pickle takes up to about 13 bytes of objects per byte
   * (/core/checkpoint/many-tensors: 100k tensors, each global and string
   * written out rather than memoized); the budget leaves room for more. */
  vm = cs_pickle_new (path, CS_PTH_VM_FIXED_BUDGET + CS_PTH_VM_BUDGET_PER_BYTE * pkl->size);
  result = cs_pickle_run (vm, pkl->data, pkl->size, error);
  if (result == NULL)
    return NULL;

  sd = find_state_dict (result, 0);
  if (sd == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                   "%s: the file holds no state_dict (a dict of tensors)", path);
      return NULL;
    }

  /* Float32 copies of the tensors: at most twice the file (float16 doubles),
   * however the views share storage. */
  tensor_budget = 2 * len + 4096;
  self = cs_checkpoint_new_empty (path, "pytorch");
  for (guint i = 0; i + 1 < sd->items->len; i += 2)
    {
      CsPickleObj *k = g_ptr_array_index (sd->items, i), *v = g_ptr_array_index (sd->items, i + 1);
      CsTensor *t;

      if (k->kind != CS_PICKLE_STR || v->kind != CS_PICKLE_TENSOR)
        continue;
      if (cs_checkpoint_find (self, k->s) != NULL)
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, "%s: tensor %s appears twice", path, k->s);
          return NULL;
        }
      t = materialize (v, k->s, by_name, root, path, &tensor_budget, error);
      if (t == NULL)
        return NULL;
      cs_checkpoint_add_tensor (self, t);
    }
  return g_steal_pointer (&self);
}

