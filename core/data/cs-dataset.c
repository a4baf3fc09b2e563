/* IDX data sets: strict, overflow-safe readers for the four-file MNIST layout, plain or gzipped. */

#define G_LOG_DOMAIN "cs-dataset"

#include "config.h"

#include <math.h>
#include <string.h>

#include "data/cs-dataset.h"

/* How many times its size a gzipped IDX file may inflate to. */
#define CS_IDX_MAX_GZIP_RATIO 100
#include "base/cs-sync.h"

G_DEFINE_QUARK (cs-data-error-quark, cs_data_error)

#define IDX_TYPE_UBYTE 0x08

static const char * const idx_names[4] = {
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
};

static const char * const fashion_classes[CS_N_CLASSES] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static const char * const digit_classes[CS_N_CLASSES] = {
  "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
};

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | (guint32) p[3];
}

static gboolean
is_gzip_path (const char *path)
{
  return g_str_has_suffix (path, ".gz");
}

/* Reads up to @count bytes; *got < count only at the end of the stream. */
static gboolean
read_up_to (GInputStream  *in,
            guint8        *buf,
            gsize          count,
            gsize         *got,
            const char    *path,
            GError       **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!g_input_stream_read_all (in, buf, count, got, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA) ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_IO,
                     "%s: not a valid gzip file (%s)", path, local_error->message);
      else
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_IO,
                     "%s: read failed: %s", path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/*
 * Reads one IDX file of unsigned bytes with @want_dims dimensions.
 * The payload size is computed in 64 bits with overflow checks and compared
 * with what the file really holds before anything that large is allocated.
 */
static gboolean
idx_read (const char  *path,
          guint        want_dims,
          guint32      dims[3],
          guint8     **data_out,
          GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *data = NULL;
  guint8 header[16];
  guint32 magic, want_magic;
  guint64 payload = 1;
  gsize got = 0;
  gsize header_len = 4 + 4 * (gsize) want_dims;
  gboolean gz = is_gzip_path (path);
  goffset file_size = -1;

  g_assert (want_dims >= 1 && want_dims <= 3);

  {
    g_autoptr(GFileInfo) info = NULL;
    g_autoptr(GFileInputStream) fin = NULL;

    info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                              G_FILE_QUERY_INFO_NONE, NULL, &local_error);
    if (info == NULL)
      {
        g_set_error (error, CS_DATA_ERROR,
                     g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                       ? CS_DATA_ERROR_NOT_FOUND : CS_DATA_ERROR_IO,
                     "%s: %s", path, local_error->message);
        return FALSE;
      }
    if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
      {
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_IO, "%s: not a regular file", path);
        return FALSE;
      }
    file_size = g_file_info_get_size (info);
    if (file_size == 0)
      {
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_EMPTY, "%s: the file is empty", path);
        return FALSE;
      }

    fin = g_file_read (file, NULL, &local_error);
    if (fin == NULL)
      {
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_IO, "%s: %s", path, local_error->message);
        return FALSE;
      }

    if (gz)
      {
        g_autoptr(GZlibDecompressor) dec = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
        in = g_converter_input_stream_new (G_INPUT_STREAM (fin), G_CONVERTER (dec));
      }
    else
      in = G_INPUT_STREAM (g_steal_pointer (&fin));
  }

  if (!read_up_to (in, header, 4, &got, path, error))
    return FALSE;
  if (got == 0)
    {
      g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_EMPTY,
                   "%s: the file is empty (after decompression)", path);
      return FALSE;
    }
  if (got < 4)
    {
      g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_TRUNCATED,
                   "%s: truncated header: %" G_GSIZE_FORMAT " of 4 magic bytes", path, got);
      return FALSE;
    }

  magic = read_be32 (header);
  want_magic = (IDX_TYPE_UBYTE << 8) | want_dims;
  if (magic != want_magic)
    {
      if ((magic >> 8) == IDX_TYPE_UBYTE)
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_MAGIC,
                     "%s: expected magic 0x%08x, found 0x%08x (%u dimensions where %u are expected)",
                     path, want_magic, magic, magic & 0xff, want_dims);
      else
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_MAGIC,
                     "%s: expected magic 0x%08x, found 0x%08x (not an IDX file of unsigned bytes)",
                     path, want_magic, magic);
      return FALSE;
    }

  if (!read_up_to (in, header + 4, header_len - 4, &got, path, error))
    return FALSE;
  if (got < header_len - 4)
    {
      g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_TRUNCATED,
                   "%s: truncated header: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes",
                   path, got + 4, header_len);
      return FALSE;
    }

  for (guint i = 0; i < want_dims; i++)
    {
      dims[i] = read_be32 (header + 4 + 4 * i);
      if (dims[i] == 0)
        {
          g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_SIZE,
                       "%s: dimension %u of the header is 0", path, i);
          return FALSE;
        }
      if (!g_uint64_checked_mul (&payload, payload, dims[i]))
        {
          g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_SIZE,
                       "%s: the header's sizes overflow 64 bits", path);
          return FALSE;
        }
    }

#define PROMISE_FMT "%s: header promises %u %s%s (%" G_GUINT64_FORMAT " bytes) but the file holds "
#define PROMISE_ARGS path, dims[0], want_dims == 1 ? "labels" : "images", \
                     want_dims == 1 ? "" : dims_str, payload

  {
    g_autofree char *dims_str = want_dims == 3 ? g_strdup_printf (" of %ux%u", dims[1], dims[2]) : g_strdup ("");

    /* For a plain file the size is known: refuse before allocating. */
    if (!gz && (guint64) file_size - header_len != payload)
      {
        guint64 holds = (guint64) file_size - header_len;

        g_set_error (error, CS_DATA_ERROR,
                     holds < payload ? CS_DATA_ERROR_TRUNCATED : CS_DATA_ERROR_BAD_SIZE,
                     PROMISE_FMT "%" G_GUINT64_FORMAT "%s",
                     PROMISE_ARGS, holds, holds < payload ? "" : " (trailing data)");
        return FALSE;
      }

    if (payload > G_MAXSIZE / 2)
      {
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_SIZE,
                     PROMISE_FMT "less", PROMISE_ARGS);
        return FALSE;
      }

    if (!gz)
      {
        data = g_try_malloc (MAX (payload, 1));
        if (data == NULL)
          {
            g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_IO,
                         "%s: cannot allocate %" G_GUINT64_FORMAT " bytes", path, payload);
            return FALSE;
          }
        if (!read_up_to (in, data, payload, &got, path, error))
          return FALSE;
        if (got != payload)
          {
            g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_TRUNCATED,
                         PROMISE_FMT "%" G_GSIZE_FORMAT, PROMISE_ARGS, got);
            return FALSE;
          }
      }
    else
      {
        /* A gzip stream's length is unknown until it ends: grow in chunks so a
         * header that promises billions of images costs only what is there. */
        /* A gzip file tells how much it inflates to only by inflating: stop at
         * a bound set by the file. Image data sets compress 3-5:1 (MNIST 4.8:1,
         * Fashion-MNIST 3.4:1); deflate reaches 1032:1, so 3 MB could fill 3 GB. */
        guint64 bound = MIN (payload, (guint64) file_size * CS_IDX_MAX_GZIP_RATIO);
        gsize cap = MIN (bound, (guint64) 1 << 24);
        gsize len = 0;
        guint8 extra;

        data = g_malloc (MAX (cap, 1));
        while (len < bound)
          {
            gsize want;

            if (len == cap)
              {
                cap = MIN (bound, (guint64) cap * 2);
                data = g_realloc (data, cap);
              }
            want = cap - len;
            if (!read_up_to (in, data + len, want, &got, path, error))
              return FALSE;
            len += got;
            if (got < want)
              break;
          }
        if (len == bound && bound < payload)
          {
            g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_SIZE,
                         "%s: the gzip file inflates to more than %d times its %" G_GOFFSET_FORMAT
                         " bytes, which no image data set does (a gzip bomb?); its header promises %" G_GUINT64_FORMAT
                         " bytes", path, CS_IDX_MAX_GZIP_RATIO, file_size, payload);
            return FALSE;
          }
        if (len != payload)
          {
            g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_TRUNCATED,
                         PROMISE_FMT "%" G_GSIZE_FORMAT, PROMISE_ARGS, len);
            return FALSE;
          }
        if (!read_up_to (in, &extra, 1, &got, path, error))
          return FALSE;
        if (got != 0)
          {
            g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_SIZE,
                         PROMISE_FMT "more (trailing data)", PROMISE_ARGS);
            return FALSE;
          }
      }
  }
#undef PROMISE_FMT
#undef PROMISE_ARGS

  *data_out = g_steal_pointer (&data);
  return TRUE;
}

gboolean
cs_idx_read_images (const char  *path,
                    guint8     **pixels,
                    guint       *n,
                    guint       *rows,
                    guint       *cols,
                    GError     **error)
{
  guint32 dims[3];

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (pixels != NULL, FALSE);

  if (!idx_read (path, 3, dims, pixels, error))
    return FALSE;
  *n = dims[0];
  *rows = dims[1];
  *cols = dims[2];
  return TRUE;
}

gboolean
cs_idx_read_labels (const char  *path,
                    guint8     **labels,
                    guint       *n,
                    GError     **error)
{
  guint32 dims[3];
  g_autofree guint8 *data = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (labels != NULL, FALSE);

  if (!idx_read (path, 1, dims, &data, error))
    return FALSE;

  for (guint32 i = 0; i < dims[0]; i++)
    if (data[i] >= CS_N_CLASSES)
      {
        g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_BAD_LABEL,
                     "%s: label %u at index %u is out of range (the classes are 0 to %u)",
                     path, data[i], i, CS_N_CLASSES - 1);
        return FALSE;
      }

  *labels = g_steal_pointer (&data);
  *n = dims[0];
  return TRUE;
}

/* Finds @name or @name.gz in @dir; returns NULL when neither exists. */
static char *
find_idx_file (const char *dir,
               const char *name)
{
  g_autofree char *plain = g_build_filename (dir, name, NULL);
  g_autofree char *gz = NULL;

  if (g_file_test (plain, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&plain);
  gz = g_strconcat (plain, ".gz", NULL);
  if (g_file_test (gz, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&gz);
  return NULL;
}

static gboolean
dir_has_idx (const char *dir)
{
  for (guint i = 0; i < G_N_ELEMENTS (idx_names); i++)
    {
      g_autofree char *p = find_idx_file (dir, idx_names[i]);
      if (p == NULL)
        return FALSE;
    }
  return TRUE;
}

/*
 * Resolves the data directory: @explicit_dir (from --data), else
 * $CONVSCOPE_DATA, else the project's data/; each may hold the IDX files
 * itself or in a sub-directory named after @dataset ("mnist",
 * "fashion-mnist"). Fashion-MNIST also comes from Debian's package.
 */
char *
cs_data_find_dir (const char  *explicit_dir,
                  const char  *dataset,
                  GError     **error)
{
  g_autoptr(GPtrArray) roots = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) looked = g_string_new (NULL);
  const char *env;

  if (dataset == NULL)
    dataset = "mnist";

  if (explicit_dir != NULL)
    g_ptr_array_add (roots, g_strdup (explicit_dir));
  else
    {
      if ((env = g_getenv ("CONVSCOPE_DATA")) != NULL && env[0] != '\0')
        g_ptr_array_add (roots, g_strdup (env));
      g_ptr_array_add (roots, g_strdup (CS_SOURCE_DATA_DIR));
    }

  for (guint i = 0; i < roots->len; i++)
    {
      const char *root = g_ptr_array_index (roots, i);
      g_autofree char *sub = g_build_filename (root, dataset, NULL);

      if (explicit_dir != NULL && dir_has_idx (root))
        return g_strdup (root);
      if (dir_has_idx (sub))
        return g_steal_pointer (&sub);
      if (explicit_dir == NULL && dir_has_idx (root) && g_str_equal (dataset, "mnist"))
        return g_strdup (root);
      g_string_append_printf (looked, "%s%s", looked->len ? ", " : "", explicit_dir ? root : sub);
    }

  if (explicit_dir == NULL && g_str_equal (dataset, "fashion-mnist"))
    {
      if (dir_has_idx (CS_SYSTEM_FASHION_MNIST_DIR))
        return g_strdup (CS_SYSTEM_FASHION_MNIST_DIR);
      g_string_append_printf (looked, ", %s", CS_SYSTEM_FASHION_MNIST_DIR);
    }

  if (explicit_dir != NULL)
    g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_NOT_FOUND,
                 "%s holds no IDX data set: it needs train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                 "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz), "
                 "directly or in a \"%s\" sub-directory",
                 explicit_dir, dataset);
  else if (g_str_equal (dataset, "fashion-mnist"))
    g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_NOT_FOUND,
                 "no Fashion-MNIST data found (looked in %s); install it with "
                 "\"apt-get install dataset-fashion-mnist\" or pass --data DIR",
                 looked->str);
  else
    g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_NOT_FOUND,
                 "no %s data found (looked in %s); fetch MNIST with \"tools/fetch-mnist\", "
                 "set CONVSCOPE_DATA, or pass --data DIR",
                 dataset, looked->str);
  return NULL;
}

static void
data_split_clear (CsDataSplit *split)
{
  g_clear_pointer (&split->images_path, g_free);
  g_clear_pointer (&split->labels_path, g_free);
  g_clear_pointer (&split->pixels, g_free);
  g_clear_pointer (&split->labels, g_free);
}

static gboolean
data_split_load (CsDataSplit *split,
                 const char  *dir,
                 const char  *images_name,
                 const char  *labels_name,
                 GError     **error)
{
  guint n_labels = 0;

  split->images_path = find_idx_file (dir, images_name);
  split->labels_path = find_idx_file (dir, labels_name);
  if (split->images_path == NULL || split->labels_path == NULL)
    {
      g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_NOT_FOUND,
                   "%s/%s: no such file (nor %s.gz)", dir,
                   split->images_path == NULL ? images_name : labels_name,
                   split->images_path == NULL ? images_name : labels_name);
      return FALSE;
    }

  if (!cs_idx_read_images (split->images_path, &split->pixels, &split->n,
                           &split->rows, &split->cols, error))
    return FALSE;
  if (!cs_idx_read_labels (split->labels_path, &split->labels, &n_labels, error))
    return FALSE;
  if (n_labels != split->n)
    {
      g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_MISMATCH,
                   "%s holds %u labels but %s holds %u images",
                   split->labels_path, n_labels, split->images_path, split->n);
      return FALSE;
    }
  return TRUE;
}

CsDataset *
cs_dataset_load (const char  *dir,
                 GError     **error)
{
  g_autoptr(CsDataset) self = NULL;
  g_autofree char *base = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  self = g_new0 (CsDataset, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->dir = g_strdup (dir);

  if (!data_split_load (&self->train, dir, idx_names[0], idx_names[1], error) ||
      !data_split_load (&self->test, dir, idx_names[2], idx_names[3], error))
    return NULL;

  if (self->train.rows != self->test.rows || self->train.cols != self->test.cols)
    {
      g_set_error (error, CS_DATA_ERROR, CS_DATA_ERROR_MISMATCH,
                   "%s: training images are %ux%u but test images are %ux%u",
                   dir, self->train.rows, self->train.cols, self->test.rows, self->test.cols);
      return NULL;
    }

  base = g_path_get_basename (dir);
  if (strstr (dir, "fashion") != NULL)
    self->name = g_strdup ("Fashion-MNIST");
  else if (g_ascii_strcasecmp (base, "mnist") == 0 || strstr (dir, "mnist") != NULL)
    self->name = g_strdup ("MNIST");
  else
    self->name = g_strdup (base);

  return g_steal_pointer (&self);
}

CsDataset *
cs_dataset_open (const char  *explicit_dir,
                 const char  *dataset,
                 GError     **error)
{
  g_autofree char *dir = cs_data_find_dir (explicit_dir, dataset, error);

  if (dir == NULL)
    return NULL;
  return cs_dataset_load (dir, error);
}

static void
split_copy_first (CsDataSplit       *dst,
                  const CsDataSplit *src,
                  guint              n)
{
  gsize image = (gsize) src->rows * src->cols;

  n = MIN (n, src->n);
  dst->images_path = g_strdup (src->images_path);
  dst->labels_path = g_strdup (src->labels_path);
  dst->n = n;
  dst->rows = src->rows;
  dst->cols = src->cols;
  dst->pixels = g_memdup2 (src->pixels, MAX (1, n * image));
  dst->labels = g_memdup2 (src->labels, MAX (1, n));
}

CsDataset *
cs_dataset_new_subset (const CsDataset *self,
                       guint            n_train,
                       guint            n_test)
{
  CsDataset *sub;

  g_return_val_if_fail (self != NULL, NULL);

  sub = g_new0 (CsDataset, 1);
  g_atomic_ref_count_init (&sub->ref_count);
  sub->name = g_strdup (self->name);
  sub->dir = g_strdup (self->dir);
  split_copy_first (&sub->train, &self->train, n_train);
  split_copy_first (&sub->test, &self->test, n_test);
  return sub;
}

CsDataset *
cs_dataset_ref (CsDataset *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
cs_dataset_unref (CsDataset *self)
{
  if (self == NULL || !cs_ref_count_dec (&self->ref_count))
    return;
  data_split_clear (&self->train);
  data_split_clear (&self->test);
  g_free (self->name);
  g_free (self->dir);
  g_free (self);
}

const char *
cs_dataset_class_name (const CsDataset *self,
                       guint            klass)
{
  g_return_val_if_fail (klass < CS_N_CLASSES, "?");

  if (self != NULL && self->name != NULL && g_str_equal (self->name, "Fashion-MNIST"))
    return fashion_classes[klass];
  return digit_classes[klass];
}

/* ToTensor(): byte / 255 as float, exactly as PyTorch divides. */
static const float *
byte_to_unit_lut (void)
{
  static float lut[256];
  static gsize init = 0;

  if (g_once_init_enter (&init))
    {
      for (guint i = 0; i < 256; i++)
        lut[i] = (float) i / 255.0f;
      g_once_init_leave (&init, 1);
    }
  return lut;
}

/* out is (count, rows*cols); labels is (count) and may be NULL. */
void
cs_data_split_to_float (const CsDataSplit *split,
                        const guint32     *indices,
                        guint              count,
                        float             *out,
                        gint32            *labels)
{
  const float *lut = byte_to_unit_lut ();
  gsize image_size;

  g_return_if_fail (split != NULL);

  image_size = (gsize) split->rows * split->cols;

  for (guint i = 0; i < count; i++)
    {
      const guint8 *src;
      float *dst = out + (gsize) i * image_size;

      g_assert (indices[i] < split->n);
      src = split->pixels + (gsize) indices[i] * image_size;
      for (gsize j = 0; j < image_size; j++)
        dst[j] = lut[src[j]];
      if (labels != NULL)
        labels[i] = split->labels[indices[i]];
    }
}

void
cs_data_split_first_to_float (const CsDataSplit *split,
                              guint              first,
                              guint              count,
                              float             *out,
                              gint32            *labels)
{
  const float *lut = byte_to_unit_lut ();
  gsize image_size = (gsize) split->rows * split->cols;
  const guint8 *src;

  g_assert (first + count <= split->n);
  src = split->pixels + (gsize) first * image_size;
  for (gsize j = 0; j < count * image_size; j++)
    out[j] = lut[src[j]];
  if (labels != NULL)
    for (guint i = 0; i < count; i++)
      labels[i] = split->labels[first + i];
}

/* Mean and (population) standard deviation of the pixels scaled to [0, 1],
 * exact through a histogram of the 256 byte values. */
void
cs_data_split_pixel_stats (const CsDataSplit *split,
                           double            *mean,
                           double            *std)
{
  guint64 hist[256] = { 0 };
  double sum = 0, sum2 = 0, m;
  gsize total;

  g_return_if_fail (split != NULL);

  total = (gsize) split->n * split->rows * split->cols;

  for (gsize i = 0; i < total; i++)
    hist[split->pixels[i]]++;
  for (guint v = 0; v < 256; v++)
    {
      double x = v / 255.0;
      sum += hist[v] * x;
      sum2 += hist[v] * x * x;
    }
  m = total ? sum / total : 0;
  *mean = m;
  *std = total ? sqrt (MAX (0.0, sum2 / total - m * m)) : 0;
}

void
cs_data_split_label_counts (const CsDataSplit *split,
                            guint              counts[CS_N_CLASSES])
{
  g_return_if_fail (split != NULL);

  memset (counts, 0, sizeof (guint) * CS_N_CLASSES);
  for (guint i = 0; i < split->n; i++)
    counts[split->labels[i]]++;
}
