/* safetensors: the reader checks every field the format defines before a byte
 * is trusted; the writer puts tensors and metadata in the order given. */

#define G_LOG_DOMAIN "cs-safetensors"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "base/cs-atomic-file.h"
#include "base/cs-file.h"
#include "formats/cs-safetensors.h"

#define MAX_HEADER (100 * 1024 * 1024)
/* {"name": {"shape": [...]}} is three deep; __metadata__ two. */
#define MAX_HEADER_DEPTH 8

typedef struct
{
  char   *name;
  char   *dtype;
  int     ndim;
  int     shape[8];
  gsize   numel;
  guint64 begin;
  guint64 end;
} Entry;

static void
entry_free (Entry *e)
{
  g_free (e->name);
  g_free (e->dtype);
  g_free (e);
}

static int
compare_begin (gconstpointer a,
               gconstpointer b)
{
  const Entry *x = *(Entry **) a, *y = *(Entry **) b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static gboolean
get_u64 (JsonNode *node,
         guint64  *out)
{
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

#define FAIL(...) G_STMT_START { g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, __VA_ARGS__); return NULL; } G_STMT_END

CsCheckpoint *
cs_safetensors_parse (const guint8 *data,
                      gsize         len,
                      const char   *path,
                      GError      **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  g_autoptr(GPtrArray) sorted = NULL;
  g_autoptr(CsCheckpoint) self = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *root;
  JsonNode *node;
  guint64 n;
  const guint8 *buffer;
  guint64 buffer_len, expected = 0;

  if (len < 8)
    FAIL ("%s: %" G_GSIZE_FORMAT " bytes is too short for a safetensors file", path, len);
  memcpy (&n, data, 8);
  n = GUINT64_FROM_LE (n);
  if (n > len - 8)
    FAIL ("%s: the header length %" G_GUINT64_FORMAT " runs past the end of the file (%" G_GSIZE_FORMAT " bytes)",
          path, n, len);
  if (n > MAX_HEADER)
    FAIL ("%s: the header length %" G_GUINT64_FORMAT " is over the format's limit of 100 MB", path, n);
  if (n < 2 || data[8] != '{')
    FAIL ("%s: not a safetensors file (the header does not start with '{')", path);
  if (!g_utf8_validate ((const char *) data + 8, (gssize) n, NULL))
    FAIL ("%s: the header is not valid UTF-8", path);
  /* Strict JSON, bounded depth, no member twice: json-glib would merge
   * duplicates and recurse as deep as the file nests. */
  {
    g_autofree char *what = g_strdup_printf ("%s: the header is not valid JSON", path);
    if (!cs_json_check_strict ((const char *) data + 8, n, MAX_HEADER_DEPTH, what, &local_error))
      FAIL ("%s", local_error->message);
  }

  if (!json_parser_load_from_data (parser, (const char *) data + 8, (gssize) n, &local_error))
    FAIL ("%s: the header is not valid JSON: %s", path, local_error->message);
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    FAIL ("%s: the header is not a JSON object", path);
  root = json_node_get_object (node);

  self = cs_checkpoint_new_empty (path, "safetensors");
  buffer = data + 8 + n;
  buffer_len = len - 8 - n;

  members = json_object_get_members (root);
  for (GList *l = members; l; l = l->next)
    {
      const char *name = l->data;
      JsonNode *tn = json_object_get_member (root, name);
      JsonObject *to;
      JsonArray *shape, *offsets;
      const char *dtype;
      Entry *e;
      gsize elem;
      guint64 numel = 1, bytes;

      if (g_str_equal (name, "__metadata__"))
        {
          JsonObject *mo;
          g_autoptr(GList) keys = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (tn))
            FAIL ("%s: __metadata__ must be an object of strings", path);
          mo = json_node_get_object (tn);
          keys = json_object_get_members (mo);
          for (GList *k = keys; k; k = k->next)
            {
              JsonNode *v = json_object_get_member (mo, k->data);
              if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
                FAIL ("%s: __metadata__ value \"%s\" is not a string", path, (char *) k->data);
              g_hash_table_insert (self->metadata, g_strdup (k->data), g_strdup (json_node_get_string (v)));
            }
          continue;
        }

      if (!JSON_NODE_HOLDS_OBJECT (tn))
        FAIL ("%s: tensor \"%s\" is not described by an object", path, name);
      to = json_node_get_object (tn);
      node = json_object_get_member (to, "dtype");
      if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        FAIL ("%s: tensor \"%s\" has no dtype", path, name);
      dtype = json_node_get_string (node);
      elem = cs_dtype_size (dtype);
      if (elem == 0)
        FAIL ("%s: tensor \"%s\" has the unknown dtype \"%s\"", path, name, dtype);

      node = json_object_get_member (to, "shape");
      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        FAIL ("%s: tensor \"%s\" has no shape", path, name);
      shape = json_node_get_array (node);
      if (json_array_get_length (shape) > 8)
        FAIL ("%s: tensor \"%s\" has %u dimensions; at most 8 are supported", path, name,
              json_array_get_length (shape));

      e = g_new0 (Entry, 1);
      g_ptr_array_add (entries, e);
      e->name = g_strdup (name);
      e->dtype = g_strdup (dtype);
      e->ndim = (int) json_array_get_length (shape);
      for (int d = 0; d < e->ndim; d++)
        {
          guint64 v;
          if (!get_u64 (json_array_get_element (shape, d), &v) || v > G_MAXINT32)
            FAIL ("%s: tensor \"%s\": dimension %d of its shape is not a valid size", path, name, d);
          e->shape[d] = (int) v;
          if (!g_uint64_checked_mul (&numel, numel, v))
            FAIL ("%s: tensor \"%s\": its shape overflows 64 bits", path, name);
        }
      if (!g_uint64_checked_mul (&bytes, numel, elem))
        FAIL ("%s: tensor \"%s\": its size overflows 64 bits", path, name);
      e->numel = (gsize) numel;

      node = json_object_get_member (to, "data_offsets");
      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (offsets = json_node_get_array (node)) != 2 ||
          !get_u64 (json_array_get_element (offsets, 0), &e->begin) ||
          !get_u64 (json_array_get_element (offsets, 1), &e->end))
        FAIL ("%s: tensor \"%s\" has no valid data_offsets [begin, end]", path, name);
      if (e->end < e->begin)
        FAIL ("%s: tensor \"%s\": data_offsets end %" G_GUINT64_FORMAT " is before begin %" G_GUINT64_FORMAT,
              path, name, e->end, e->begin);
      if (e->end > buffer_len)
        FAIL ("%s: tensor \"%s\": data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] run past the data "
              "(%" G_GUINT64_FORMAT " bytes; the file may be truncated)", path, name, e->begin, e->end, buffer_len);
      if (e->end - e->begin != bytes)
        {
          g_autofree char *s = cs_tensor_shape_string (e->shape, e->ndim);
          FAIL ("%s: tensor \"%s\": %s %s needs %" G_GUINT64_FORMAT " bytes but its data_offsets span %" G_GUINT64_FORMAT,
                path, name, dtype, s, bytes, e->end - e->begin);
        }
    }

  /* Contiguous from 0, no gap, no overlap, and the file ends where the data does. */
  sorted = g_ptr_array_sized_new (entries->len);  /* borrowed: no free func, unlike g_ptr_array_copy */
  g_ptr_array_extend (sorted, entries, NULL, NULL);
  g_ptr_array_sort (sorted, compare_begin);
  for (guint i = 0; i < sorted->len; i++)
    {
      Entry *e = g_ptr_array_index (sorted, i);

      if (e->begin > expected)
        FAIL ("%s: %" G_GUINT64_FORMAT " bytes before tensor \"%s\" belong to no tensor", path, e->begin - expected, e->name);
      if (e->begin < expected)
        FAIL ("%s: tensor \"%s\" overlaps the tensor before it", path, e->name);
      expected = e->end;
    }
  if (expected != buffer_len)
    FAIL ("%s: %" G_GUINT64_FORMAT " bytes after the last tensor belong to no tensor", path, buffer_len - expected);

  /* In the header's order, converted. */
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *e = g_ptr_array_index (entries, i);
      CsTensor *t = g_new0 (CsTensor, 1);

      t->name = g_strdup (e->name);
      t->dtype = g_strdup (e->dtype);
      t->ndim = e->ndim;
      memcpy (t->shape, e->shape, sizeof t->shape);
      t->numel = e->numel;
      t->data = cs_tensor_convert (buffer + e->begin, e->dtype, e->numel);
      if (t->data == NULL)
        t->ints = cs_tensor_convert_ints (buffer + e->begin, e->dtype, e->numel);
      cs_checkpoint_add_tensor (self, t);
    }
  return g_steal_pointer (&self);
}

gboolean
cs_safetensors_write (const char        *path,
                      const CsTensorRef *tensors,
                      guint              n_tensors,
                      GHashTable        *metadata,
                      CsWriteFlags       flags,
                      GError           **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (tensors != NULL || n_tensors == 0, FALSE);

  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GByteArray) file = g_byte_array_new ();
  g_autofree char *header = NULL;
  gsize header_len, padded, offset = 0;
  g_autoptr(GError) local_error = NULL;
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
      json_builder_add_string_value (builder, tensors[t].int64 ? "I64" : "F32");
      json_builder_set_member_name (builder, "shape");
      json_builder_begin_array (builder);
      for (int d = 0; d < tensors[t].ndim; d++)
        json_builder_add_int_value (builder, tensors[t].shape[d]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "data_offsets");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, (gint64) offset);
      json_builder_add_int_value (builder, (gint64) (offset + numel * (tensors[t].int64 ? 8 : 4)));
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      offset += numel * (tensors[t].int64 ? 8 : 4);
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
      if (tensors[t].int64)
        {
          for (gsize i = 0; i < numel; i++)
            {
              guint64 v = GUINT64_TO_LE ((guint64) (gint64) tensors[t].data[i]);
              g_byte_array_append (file, (const guint8 *) &v, 8);
            }
          continue;
        }
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

  if (!cs_write_file_full (path, file->data, file->len, flags, &local_error))
    {
      g_set_error_literal (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_IO, local_error->message);
      return FALSE;
    }
  return TRUE;
}
