/* The desktop application: actions, accelerators and the main window. */

#define G_LOG_DOMAIN "cs-application"

#include "config.h"

#include "cs-application.h"
#include "cs-gl-probe.h"
#include "cs-theme.h"
#include "cs-window.h"

struct _CsApplication
{
  GtkApplication  parent_instance;
  GSettings      *interface_settings;
};

G_DEFINE_FINAL_TYPE (CsApplication, cs_application, GTK_TYPE_APPLICATION)

static void
quit_activated_cb (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  GList *windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (user_data)));

  /* Through each window's close request: training runs stop cleanly and the
   * window remembers its state; the application ends with its last window. */
  if (windows == NULL)
    g_application_quit (G_APPLICATION (user_data));
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free (windows);
}

static void
about_activated_cb (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  static const char *authors[] = { "The Convscope developers", NULL };
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  gtk_show_about_dialog (parent,
                         "program-name", "Convscope",
                         "logo-icon-name", APPLICATION_ID,
                         "version", PACKAGE_VERSION,
                         "comments", "Train convolutional networks on MNIST and watch what they learn.",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "authors", authors,
                         "website", "https://github.com/convscope/convscope",
                         NULL);
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = quit_activated_cb },
  { .name = "about", .activate = about_activated_cb },
};

/* Without libadwaita, follow the desktop's light/dark preference by hand. */
static void
color_scheme_changed_cb (GSettings  *settings,
                         const char *key,
                         gpointer    user_data)
{
  g_autofree char *scheme = g_settings_get_string (settings, "color-scheme");

  g_object_set (gtk_settings_get_default (), "gtk-application-prefer-dark-theme",
                g_strcmp0 (scheme, "prefer-dark") == 0, NULL);
}

static void
follow_color_scheme (CsApplication *self)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, "org.gnome.desktop.interface", TRUE) : NULL;

  if (schema == NULL || !g_settings_schema_has_key (schema, "color-scheme"))
    return;
  self->interface_settings = g_settings_new ("org.gnome.desktop.interface");
  g_signal_connect (self->interface_settings, "changed::color-scheme", G_CALLBACK (color_scheme_changed_cb), self);
  color_scheme_changed_cb (self->interface_settings, "color-scheme", self);
}

static void
cs_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *new_accels[] = { "<Control>n", NULL };
  static const char *rename_accels[] = { "F2", NULL };
  static const char *open_accels[] = { "<Control>o", NULL };
  static const char *save_accels[] = { "<Control>s", NULL };

  G_APPLICATION_CLASS (cs_application_parent_class)->startup (app);
  cs_prefer_cairo_on_software_gl ();

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.new-run", new_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.rename-run", rename_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.open", open_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.save", save_accels);
  gtk_window_set_default_icon_name (APPLICATION_ID);
  follow_color_scheme (CS_APPLICATION (app));

  cs_theme_install ();
}

static void
cs_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (cs_window_new (GTK_APPLICATION (app)));
  gtk_window_present (window);
}

/* `convscope FILE...`, a file manager's Open With, files dropped on the
 * launcher: each opened as a checkpoint in the window (a window already open
 * in another process gets them, through D-Bus). */
static void
cs_application_open (GApplication  *app,
                     GFile        **files,
                     int            n_files,
                     const char    *hint)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (cs_window_new (GTK_APPLICATION (app)));
  gtk_window_present (window);
  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *path = g_file_get_path (files[i]);
      g_autofree char *uri = NULL;
      g_autoptr(GError) error = NULL;

      if (path == NULL)
        {
          uri = g_file_get_uri (files[i]);
          g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s: only local files can be opened", uri);
        }
      else
        cs_window_open_checkpoint (CS_WINDOW (window), path, &error);
      if (error != NULL)
        {
          g_printerr ("convscope: %s\n", error->message);
          cs_window_show_message (CS_WINDOW (window), error->message, TRUE);
        }
    }
}

static void
cs_application_dispose (GObject *object)
{
  g_clear_object (&CS_APPLICATION (object)->interface_settings);
  G_OBJECT_CLASS (cs_application_parent_class)->dispose (object);
}

static void
cs_application_class_init (CsApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = cs_application_dispose;
  app_class->startup = cs_application_startup;
  app_class->activate = cs_application_activate;
  app_class->open = cs_application_open;
}

static void
cs_application_init (CsApplication *self)
{
}

CsApplication *
cs_application_new (void)
{
  return g_object_new (CS_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       NULL);
}
