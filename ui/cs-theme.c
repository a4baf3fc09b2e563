/* The app's stylesheets. GTK 4.8 without libadwaita has no dark variant of
 * an app's CSS, and its default dark theme keeps the light theme's error red
 * (2.1:1 on its grey), so a second stylesheet comes and goes with the dark
 * preference (GtkSettings:gtk-application-prefer-dark-theme, which
 * CsApplication sets from the desktop's colour scheme, or a "-dark" theme). */

#define G_LOG_DOMAIN "cs-theme"

#include "config.h"

#include "cs-theme.h"

static GtkCssProvider *base_css;
static GtkCssProvider *dark_css;
static gboolean dark_on;

static gboolean
settings_want_dark (GtkSettings *settings)
{
  g_autofree char *theme = NULL;
  gboolean prefer = FALSE;
  const char *env = g_getenv ("GTK_THEME");

  g_object_get (settings, "gtk-application-prefer-dark-theme", &prefer, "gtk-theme-name", &theme, NULL);
  return prefer || (theme != NULL && g_str_has_suffix (theme, "-dark")) || (env != NULL && g_str_has_suffix (env, ":dark"));
}

static void
update (GtkSettings *settings)
{
  GdkDisplay *display = gdk_display_get_default ();
  gboolean dark = settings_want_dark (settings);

  if (display == NULL || dark == dark_on)
    return;
  if (dark)
    gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (dark_css),
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION + 1);
  else
    gtk_style_context_remove_provider_for_display (display, GTK_STYLE_PROVIDER (dark_css));
  dark_on = dark;
}

static void
settings_changed_cb (GtkSettings *settings,
                     GParamSpec  *pspec,
                     gpointer     user_data)
{
  update (settings);
}

void
cs_theme_install (void)
{
  GdkDisplay *display = gdk_display_get_default ();
  GtkSettings *settings;

  g_return_if_fail (display != NULL);

  if (base_css != NULL)
    return;
  base_css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (base_css, "/io/github/convscope/Convscope/style.css");
  gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (base_css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  dark_css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (dark_css, "/io/github/convscope/Convscope/style-dark.css");
  settings = gtk_settings_get_for_display (display);
  g_signal_connect (settings, "notify::gtk-application-prefer-dark-theme", G_CALLBACK (settings_changed_cb), NULL);
  g_signal_connect (settings, "notify::gtk-theme-name", G_CALLBACK (settings_changed_cb), NULL);
  update (settings);
}

gboolean
cs_theme_is_dark (void)
{
  return dark_on;
}
