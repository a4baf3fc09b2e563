/* Tensors read from files, converted to float32, and the named set one file
 * holds (CsCheckpoint): what every reader builds and every user reads. */

#include "config.h"

#include <string.h>

#include "formats/cs-tensor.h"

G_DEFINE_QUARK (cs-checkpoint-error-quark, cs_checkpoint_error)

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
  g_free (t->ints);
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

gint64 *
cs_tensor_convert_ints (const guint8 *src,
                        const char   *dtype,
                        gsize         numel)
{
  gsize size = g_str_equal (dtype, "I64") ? 8 : g_str_equal (dtype, "I32") ? 4 : g_str_equal (dtype, "I16") ? 2
             : g_str_equal (dtype, "I8") || g_str_equal (dtype, "U8") || g_str_equal (dtype, "BOOL") ? 1 : 0;
  gint64 *out;

  if (size == 0 || numel > CS_TENSOR_MAX_INTS)
    return NULL;
  out = g_new (gint64, MAX (numel, 1));
  for (gsize i = 0; i < numel; i++)
    {
      const guint8 *p = src + size * i;
      guint64 u = 0;

      for (gsize k = 0; k < size; k++)
        u |= (guint64) p[k] << (8 * k);
      if (size == 8)
        out[i] = (gint64) u;
      else if (size == 4)
        out[i] = (gint32) (guint32) u;
      else if (size == 2)
        out[i] = (gint16) (guint16) u;
      else
        out[i] = g_str_equal (dtype, "I8") ? (gint8) (guint8) u : (gint64) u;
    }
  return out;
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

