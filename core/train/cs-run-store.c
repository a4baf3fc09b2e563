/* The runs directory: one sub-directory per run, loaded into a GListModel. */

#define G_LOG_DOMAIN "cs-run-store"

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"
#include "train/cs-run-store.h"

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
  g_return_val_if_fail (CS_IS_RUN_STORE (self), NULL);

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

/* What an interrupted save leaves behind: temporary files older than a
 * minute (a save in progress is seconds old) in a run nobody trains (its
 * .lock is free), and, if nothing else is left, the folder itself: killed
 * before its first run.json landed, it never held a run. Returns whether the
 * folder is gone. Only regular files are removed, and nothing is followed. */
static gboolean
sweep_orphans (int         store_fd,
               const char *name)
{
  g_autoptr(GPtrArray) temps = g_ptr_array_new_with_free_func (g_free);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean other = FALSE, has_record = FALSE;
  struct dirent *de;
  struct stat dir_st;
  DIR *d;
  int fd, lock_fd;

  fd = openat (store_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  lock_fd = openat (fd, ".lock", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (lock_fd >= 0)
    {
      struct stat lst;
      gboolean busy = fstat (lock_fd, &lst) != 0 || !S_ISREG (lst.st_mode) ||
                      (flock (lock_fd, LOCK_SH | LOCK_NB) != 0);
      close (lock_fd);
      if (busy)
        {
          close (fd);
          return FALSE;
        }
    }
  /* The folder's age before we change it (removing a file touches its mtime). */
  if (fstat (fd, &dir_st) != 0 || (d = fdopendir (fd)) == NULL)
    {
      close (fd);
      return FALSE;
    }
  while ((de = readdir (d)) != NULL)
    {
      struct stat st;

      if (g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
        continue;
      if (g_str_equal (de->d_name, "run.json"))
        has_record = TRUE;
      if (cs_write_file_is_temp_name (de->d_name) && fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG (st.st_mode) && now - st.st_mtime > 60)
        g_ptr_array_add (temps, g_strdup (de->d_name));
      else if (!g_str_equal (de->d_name, ".lock"))
        other = TRUE;
    }
  for (guint i = 0; i < temps->len; i++)
    if (unlinkat (dirfd (d), g_ptr_array_index (temps, i), 0) != 0)
      other = TRUE;
  /* An empty folder is only taken if it too is old: a run being created is not. */
  if (!other && !has_record && now - dir_st.st_mtime > 60)
    {
        {
          unlinkat (dirfd (d), ".lock", 0);
          closedir (d);
          return unlinkat (store_fd, name, AT_REMOVEDIR) == 0;
        }
    }
  closedir (d);
  return FALSE;
}

gboolean
cs_run_store_load (CsRunStore  *self,
                   GPtrArray  **warnings,
                   GError     **error)
{
  g_return_val_if_fail (CS_IS_RUN_STORE (self), FALSE);

  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) warn = g_ptr_array_new_with_free_func (g_free);
  guint old_len = self->runs->len;
  const char *name;
  int store_fd;

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

  store_fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->dir, name, NULL);
      g_autoptr(GError) run_error = NULL;
      struct stat st;
      CsRun *run;

      /* Runs are folders in the runs directory: a link is never followed out of it. */
      if (name[0] == '.' || lstat (path, &st) != 0)
        continue;
      if (S_ISLNK (st.st_mode))
        {
          g_ptr_array_add (warn, g_strdup_printf ("skipped %s: a symbolic link, not a run folder", path));
          continue;
        }
      if (!S_ISDIR (st.st_mode))
        continue;
      if (store_fd >= 0 && sweep_orphans (store_fd, name))
        continue;
      run = cs_run_load (path, &run_error);
      if (run == NULL)
        {
          g_ptr_array_add (warn, g_strdup_printf ("skipped %s: %s", path, run_error->message));
          continue;
        }
      g_ptr_array_add (found, run);
    }
  if (store_fd >= 0)
    close (store_fd);
  g_ptr_array_sort (found, compare_runs);

  g_ptr_array_set_size (self->runs, 0);
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (self->runs, g_object_ref (g_ptr_array_index (found, i)));
  g_list_model_items_changed (G_LIST_MODEL (self), 0, old_len, self->runs->len);

  if (warnings)
    *warnings = g_steal_pointer (&warn);
  return TRUE;
}

static gboolean
name_taken (CsRunStore *self,
            const char *name)
{
  for (guint i = 0; i < self->runs->len; i++)
    if (g_strcmp0 (cs_run_get_name (g_ptr_array_index (self->runs, i)), name) == 0)
      return TRUE;
  return FALSE;
}

char *
cs_run_store_default_name (CsRunStore          *self,
                           const CsRunSettings *settings)
{
  const CsPreset *preset;
  CsHyperParams usual;
  const CsHyperParams *hp;
  g_autoptr(GString) name = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *base = NULL;
  g_autofree char *stamp = NULL;

  g_return_val_if_fail (CS_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (settings != NULL && settings->model != NULL, NULL);

  preset = cs_preset_lookup (settings->model);
  hp = &settings->hp;
  cs_hyper_params_for_preset (&usual, preset ? settings->model : NULL);
  /* A PyTorch class goes by its name, as PyTorch prints it. */
  base = settings->spec != NULL ? cs_spec_class_name (settings->spec) : NULL;
  if (base == NULL)
    base = preset ? g_strdup (preset->title)
                  : g_str_equal (settings->model, "custom") ? g_strdup ("Custom model") : g_path_get_basename (settings->model);
  name = g_string_new (base);
  /* What differs from the notebook's settings for this model. */
  if (hp->optim.kind != usual.optim.kind)
    g_string_append (name, hp->optim.kind == CS_OPTIM_ADAM ? " · Adam" : " · SGD");
  if (hp->optim.lr != usual.optim.lr)
    g_string_append_printf (name, " · lr %g", hp->optim.lr);
  if (hp->optim.kind == CS_OPTIM_SGD && hp->optim.momentum != usual.optim.momentum)
    g_string_append_printf (name, " · momentum %g", hp->optim.momentum);
  if (hp->optim.weight_decay != usual.optim.weight_decay)
    g_string_append_printf (name, " · wd %g", hp->optim.weight_decay);
  if (hp->batch_size != usual.batch_size)
    g_string_append_printf (name, " · batch %d", hp->batch_size);
  if (hp->seed != 1)
    g_string_append_printf (name, " · seed %" G_GUINT64_FORMAT, hp->seed);
  if (g_strcmp0 (settings->dataset, "fashion-mnist") == 0)
    g_string_append (name, " · Fashion-MNIST");
  if (!name_taken (self, name->str))
    return g_string_free (g_steal_pointer (&name), FALSE);

  /* The same settings again: the time tells them apart, then a number. */
  now = g_date_time_new_now_local ();
  stamp = g_date_time_format (now, "%H:%M");
  g_string_append_printf (name, " · %s", stamp);
  if (name_taken (self, name->str))
    {
      g_autofree char *timed = g_strdup (name->str);

      for (int n = 2; n < 10000; n++)
        {
          g_string_printf (name, "%s (%d)", timed, n);
          if (!name_taken (self, name->str))
            break;
        }
    }
  return g_string_free (g_steal_pointer (&name), FALSE);
}

CsRun *
cs_run_store_create (CsRunStore          *self,
                     const CsRunSettings *settings,
                     GError             **error)
{
  g_autofree char *name = NULL;
  CsRunSettings named;
  CsRun *run;

  g_return_val_if_fail (CS_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  /* Without a name, one that tells it from the runs already here. */
  named = *settings;
  if (named.name == NULL || named.name[0] == '\0')
    named.name = name = cs_run_store_default_name (self, settings);
  run = cs_run_new (self->dir, &named, error);

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

  g_return_val_if_fail (CS_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

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

/* Removes @name in the folder @parent_fd and all it holds, relative to
 * descriptors opened with O_NOFOLLOW: a link inside (or a link swapped in
 * while we work) is removed, never followed. */
static gboolean
remove_tree_at (int          parent_fd,
                const char  *name,
                const char  *shown,
                int          depth,
                GError     **error)
{
  struct dirent *de;
  DIR *d;
  int fd, err;

  if (depth > 32)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not remove %s: nested too deeply", shown);
      return FALSE;
    }
  fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      err = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not remove %s: %s", shown,
                   err == ELOOP || err == ENOTDIR ? "not a folder (a link is not followed)" : g_strerror (err));
      return FALSE;
    }
  while ((de = readdir (d)) != NULL)
    {
      struct stat st;
      g_autofree char *child = NULL;

      if (g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
        continue;
      child = g_build_filename (shown, de->d_name, NULL);
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
        {
          if (!remove_tree_at (dirfd (d), de->d_name, child, depth + 1, error))
            {
              closedir (d);
              return FALSE;
            }
        }
      else if (unlinkat (dirfd (d), de->d_name, 0) != 0)
        {
          err = errno;
          closedir (d);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not remove %s: %s", child,
                       g_strerror (err));
          return FALSE;
        }
    }
  closedir (d);
  if (unlinkat (parent_fd, name, AT_REMOVEDIR) != 0)
    {
      err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not remove %s: %s", shown, g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

/* A run's folder, which must be a folder (not a link) directly in the runs directory. */
static gboolean
remove_tree (const char  *path,
             GError     **error)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  struct stat st;
  gboolean ok;
  int fd;

  if (lstat (path, &st) == 0 && S_ISLNK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   "%s is a symbolic link, not a run folder; Convscope does not delete through links", path);
      return FALSE;
    }
  fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not remove %s: %s", path, g_strerror (err));
      return FALSE;
    }
  ok = remove_tree_at (fd, base, path, 0, error);
  close (fd);
  return ok;
}

gboolean
cs_run_store_delete (CsRunStore  *self,
                     CsRun       *run,
                     GError     **error)
{
  guint pos;

  g_return_val_if_fail (CS_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (CS_IS_RUN (run), FALSE);

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
