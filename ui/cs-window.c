/* The main window: its layout lives in resources/ui/cs-window.ui. */

#define G_LOG_DOMAIN "cs-window"

#include "config.h"

#include "cs-dataset.h"
#include "cs-window.h"

struct _CsWindow
{
  GtkApplicationWindow  parent_instance;

  GtkHeaderBar         *header_bar;
  GtkLabel             *status_label;
};

G_DEFINE_FINAL_TYPE (CsWindow, cs_window, GTK_TYPE_APPLICATION_WINDOW)

static void
cs_window_update_status (CsWindow *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = cs_data_find_dir (NULL, "mnist", &error);
  g_autofree char *text = NULL;

  if (dir == NULL)
    text = g_strdup (error->message);
  else
    text = g_strdup_printf ("MNIST data: %s", dir);
  gtk_label_set_text (self->status_label, text);
}

static void
cs_window_class_init (CsWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CsWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, CsWindow, status_label);
}

static void
cs_window_init (CsWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  cs_window_update_status (self);
}

CsWindow *
cs_window_new (GtkApplication *application)
{
  return g_object_new (CS_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

const char *
cs_window_get_status_text (CsWindow *self)
{
  g_return_val_if_fail (CS_IS_WINDOW (self), NULL);

  return gtk_label_get_text (self->status_label);
}
