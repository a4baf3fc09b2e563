/* Files replaced atomically: a temporary file beside the target, fsync,
 * rename, fsync of the folder. On any failure the old file is untouched. */

#define G_LOG_DOMAIN "cs-file"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cs-atomic-file-private.h"
#include "base/cs-file.h"
#include "base/cs-sync.h"

/* Write failures injected by the tests (full disk after N bytes). Every
 * writer thread checks fault_armed; the rest is only touched under the lock,
 * and only while armed. */
static gint   fault_armed;
static GMutex fault_lock;
static gsize  fault_after;
static int    fault_errno;
static gsize  fault_written;

void
cs_write_file_inject_failure (gsize bytes,
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
injected_failure (int           fd,
                  const guint8 *p,
                  gsize         len,
                  int          *err)
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
write_all (int         fd,
           const void *data,
           gsize       len,
           int        *err)
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
write_special (const char *path,
               const void *data,
               gsize       len,
               GError    **error)
{
  int fd = open (path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK), err = 0, flags;

  if (fd < 0)
    {
      err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not write %s: %s", path,
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
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not write %s: %s", path,
                   g_strerror (err));
      return FALSE;
    }
  if (close (fd) != 0)
    {
      err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "could not write %s: %s", path,
                   g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_file_full (const char  *path,
                 const void  *data,
                 gsize        len,
                 CsWriteFlags flags,
                 int          links,
                 GError     **error)
{
  struct stat st;

  if (lstat (path, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "could not save %s: it is a directory", path);
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
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not save %s: %s", path,
                           local_error->message);
              return FALSE;
            }
          if (links >= 16)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
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
cs_write_file_full (const char  *path,
                    const void  *data,
                    gsize        len,
                    CsWriteFlags flags,
                    GError     **error)
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
cs_write_file_atomic (const char *path,
                      const void *data,
                      gsize       len,
                      GError    **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/." "%s" TEMP_SUFFIX, dir, base);
  int fd, err = 0, dfd;

  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "could not save %s: %s", path, g_strerror (err));
      return FALSE;
    }
  if (!write_all (fd, data, len, &err) || fsync (fd) != 0)
    {
      if (err == 0)
        err = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "could not save %s: %s (the previous file is intact)", path, g_strerror (err));
      return FALSE;
    }
  if (close (fd) != 0 || g_rename (tmp, path) != 0)
    {
      err = errno;
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
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

