/* The runs directory: one sub-directory per run, loaded into a GListModel. */

#define G_LOG_DOMAIN "cs-run-store"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cs-run-store.h"

struct _CsRunStore
{
  GObject    parent_instance;
  char      *dir;
  GPtrArray *runs;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CsRunStore, cs_run_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return CS_TYPE_RUN;
}

static guint
get_n_items (GListModel *model)
{
  return CS_RUN_STORE (model)->runs->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  CsRunStore *self = CS_RUN_STORE (model);

  if (position >= self->runs->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->runs, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
cs_run_store_finalize (GObject *object)
{
  CsRunStore *self = CS_RUN_STORE (object);

  g_clear_pointer (&self->runs, g_ptr_array_unref);
  g_free (self->dir);
  G_OBJECT_CLASS (cs_run_store_parent_class)->finalize (object);
}

static void
cs_run_store_class_init (CsRunStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cs_run_store_finalize;
}

static void
cs_run_store_init (CsRunStore *self)
{
  self->runs = g_ptr_array_new_with_free_func (g_object_unref);
}

char *
cs_default_runs_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "convscope", "runs", NULL);
}

CsRunStore *
cs_run_store_new (const char *dir)
{
  CsRunStore *self = g_object_new (CS_TYPE_RUN_STORE, NULL);

  self->dir = dir ? g_strdup (dir) : cs_default_runs_dir ();
  return self;
}

const char *
cs_run_store_get_dir (CsRunStore *self)
{
  return self->dir;
}

static int
compare_runs (gconstpointer a,
              gconstpointer b)
{
  CsRun *ra = *(CsRun **) a, *rb = *(CsRun **) b;
  gint64 ca = cs_run_get_created (ra), cb = cs_run_get_created (rb);

  if (ca != cb)
    return ca < cb ? -1 : 1;
  return strcmp (cs_run_get_id (ra), cs_run_get_id (rb));
}

gboolean
cs_run_store_load (CsRunStore  *self,
                   GPtrArray  **warnings,
                   GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) warn = g_ptr_array_new_with_free_func (g_free);
  guint old_len = self->runs->len;
  const char *name;

  if (!g_file_test (self->dir, G_FILE_TEST_EXISTS))
    {
      /* No runs yet. */
      g_ptr_array_set_size (self->runs, 0);
      if (old_len > 0)
        g_list_model_items_changed (G_LIST_MODEL (self), 0, old_len, 0);
      if (warnings)
        *warnings = g_steal_pointer (&warn);
      return TRUE;
    }

  dir = g_dir_open (self->dir, 0, &local_error);
  if (dir == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not read the runs directory %s: %s",
                   self->dir, local_error->message);
      return FALSE;
    }

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->dir, name, NULL);
      g_autoptr(GError) run_error = NULL;
      CsRun *run;

      if (name[0] == '.' || !g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      run = cs_run_load (path, &run_error);
      if (run == NULL)
        {
          g_ptr_array_add (warn, g_strdup_printf ("skipped %s: %s", path, run_error->message));
          continue;
        }
      g_ptr_array_add (found, run);
    }
  g_ptr_array_sort (found, compare_runs);

  g_ptr_array_set_size (self->runs, 0);
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (self->runs, g_object_ref (g_ptr_array_index (found, i)));
  g_list_model_items_changed (G_LIST_MODEL (self), 0, old_len, self->runs->len);

  if (warnings)
    *warnings = g_steal_pointer (&warn);
  return TRUE;
}

CsRun *
cs_run_store_create (CsRunStore          *self,
                     const char          *name,
                     const char          *model,
                     const CsSpec        *spec,
                     const CsHyperParams *hp,
                     const char          *dataset,
                     const char          *data_dir,
                     GError             **error)
{
  CsRun *run = cs_run_new (self->dir, name, model, spec, hp, dataset, data_dir, error);

  if (run == NULL)
    return NULL;
  g_ptr_array_add (self->runs, run);
  g_list_model_items_changed (G_LIST_MODEL (self), self->runs->len - 1, 0, 1);
  return run;
}

CsRun *
cs_run_store_find (CsRunStore  *self,
                   const char  *id,
                   GError     **error)
{
  CsRun *match = NULL;
  guint n = 0;

  for (guint i = 0; i < self->runs->len; i++)
    {
      CsRun *run = g_ptr_array_index (self->runs, i);

      if (g_str_equal (cs_run_get_id (run), id))
        return run;
      if (g_str_has_prefix (cs_run_get_id (run), id))
        {
          match = run;
          n++;
        }
    }
  if (n == 1)
    return match;
  if (n > 1)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "\"%s\" matches %u runs; give more of the id", id, n);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no run \"%s\" in %s", id, self->dir);
  return NULL;
}

static gboolean
remove_tree (const char  *path,
             GError     **error)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, error);
  const char *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        {
          if (!remove_tree (child, error))
            return FALSE;
        }
      else if (g_unlink (child) != 0)
        {
          int err = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not remove %s: %s", child,
                       g_strerror (err));
          return FALSE;
        }
    }
  if (g_rmdir (path) != 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not remove %s: %s", path, g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

gboolean
cs_run_store_delete (CsRunStore  *self,
                     CsRun       *run,
                     GError     **error)
{
  guint pos;

  if (cs_run_state_is_live (cs_run_get_state (run)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "run %s is training; stop it first", cs_run_get_id (run));
      return FALSE;
    }
  if (!remove_tree (cs_run_get_dir (run), error))
    return FALSE;
  if (g_ptr_array_find (self->runs, run, &pos))
    {
      g_ptr_array_remove_index (self->runs, pos);
      g_list_model_items_changed (G_LIST_MODEL (self), pos, 1, 0);
    }
  return TRUE;
}
