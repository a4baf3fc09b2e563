/* IDX data sets (MNIST, Fashion-MNIST or any directory in that layout), kept as bytes. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CS_DATA_ERROR (cs_data_error_quark ())

typedef enum
{
  CS_DATA_ERROR_NOT_FOUND,
  CS_DATA_ERROR_EMPTY,
  CS_DATA_ERROR_TRUNCATED,
  CS_DATA_ERROR_BAD_MAGIC,
  CS_DATA_ERROR_BAD_SIZE,
  CS_DATA_ERROR_MISMATCH,
  CS_DATA_ERROR_BAD_LABEL,
  CS_DATA_ERROR_IO,
} CsDataError;

#define CS_N_CLASSES 10

typedef struct
{
  char   *images_path;
  char   *labels_path;
  guint   n;          /* number of images */
  guint   rows;
  guint   cols;
  guint8 *pixels;     /* n * rows * cols, row-major, 0..255 */
  guint8 *labels;     /* n, each < CS_N_CLASSES */
} CsDataSplit;

typedef struct
{
  gatomicrefcount ref_count;
  char        *name;       /* "MNIST", "Fashion-MNIST" or the directory's name */
  char        *dir;
  CsDataSplit  train;
  CsDataSplit  test;
} CsDataset;

GQuark       cs_data_error_quark      (void);

gboolean     cs_idx_read_images       (const char   *path,
                                       guint8      **pixels,
                                       guint        *n,
                                       guint        *rows,
                                       guint        *cols,
                                       GError      **error);
gboolean     cs_idx_read_labels       (const char   *path,
                                       guint8      **labels,
                                       guint        *n,
                                       GError      **error);

char        *cs_data_find_dir         (const char   *explicit_dir,
                                       const char   *dataset,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;
CsDataset   *cs_dataset_load          (const char   *dir,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;
CsDataset   *cs_dataset_open          (const char   *explicit_dir,
                                       const char   *dataset,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;
/* The first @n_train training and @n_test test images of @self, as a new data set. */
CsDataset   *cs_dataset_new_subset    (const CsDataset *self,
                                       guint         n_train,
                                       guint         n_test) G_GNUC_WARN_UNUSED_RESULT;
CsDataset   *cs_dataset_ref           (CsDataset    *self);
void         cs_dataset_unref         (CsDataset    *self);
#define      cs_dataset_free          cs_dataset_unref
const char  *cs_dataset_class_name    (const CsDataset *self,
                                       guint         klass);

void         cs_data_split_to_float   (const CsDataSplit *split,
                                       const guint32     *indices,
                                       guint              count,
                                       float             *out,
                                       gint32            *labels);
void         cs_data_split_first_to_float (const CsDataSplit *split,
                                           guint              first,
                                           guint              count,
                                           float             *out,
                                           gint32            *labels);
void         cs_data_split_pixel_stats (const CsDataSplit *split,
                                        double            *mean,
                                        double            *std);
void         cs_data_split_label_counts (const CsDataSplit *split,
                                         guint              counts[CS_N_CLASSES]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsDataset, cs_dataset_unref)

G_END_DECLS
