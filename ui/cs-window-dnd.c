/* Drag and drop: files dropped on the window are opened as checkpoints. */

#define G_LOG_DOMAIN "cs-window"

#include "config.h"

#include "cs-window-private.h"

static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         CsWindow      *self)
{
  GSList *files;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  files = g_value_get_boxed (value);
  for (GSList *l = files; l; l = l->next)
    {
      g_autofree char *path = g_file_get_path (l->data);
      g_autoptr(GError) error = NULL;

      if (path == NULL || !cs_window_open_checkpoint (self, path, &error))
        cs_window_show_message (self, error ? error->message : "Only local files can be opened.", TRUE);
    }
  return TRUE;
}

void
cs_window_add_drop_target (CsWindow *self)
{
  GtkDropTarget *drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);

  g_signal_connect (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}
