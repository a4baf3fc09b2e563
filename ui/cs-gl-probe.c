/*
 * Which renderer GTK should draw the window with.
 *
 * On a machine without a GPU (a VM, a remote X session, Xvfb) GTK 4.8's GL
 * renderer runs on Mesa's llvmpipe, a software rasteriser that redraws the
 * whole window on the CPU every frame, on the same cores the trainer uses:
 * measured under Xvfb on 2 cores while LeNet-5 trains, the GL renderer misses
 * frames (median 16.7-33 ms, 95th percentile 50 ms) where the cairo renderer
 * keeps every 60 Hz frame. GTK itself stops using GL on llvmpipe from 4.14
 * ("gsk: Don't use gpu renderers with llvmpipe"); this does the same on older
 * GTK, before the first window is realised. GSK_RENDERER set by the person
 * always wins.
 */

#define G_LOG_DOMAIN "cs-gl-probe"

#include "config.h"

#include <epoxy/gl.h>

#include "cs-gl-probe.h"

static gboolean
is_software (const char *renderer)
{
  static const char * const names[] = { "llvmpipe", "softpipe", "SWR", "Software Rasterizer" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (renderer != NULL && strstr (renderer, names[i]) != NULL)
      return TRUE;
  return FALSE;
}

/* Returns the GL renderer's name when it probed one (for the log and the
 * tests), NULL when GL is not there or the choice was not Convscope's to make. */
const char *
cs_prefer_cairo_on_software_gl (void)
{
  static char *renderer;
  GdkDisplay *display = gdk_display_get_default ();
  g_autoptr(GdkGLContext) context = NULL;
  g_autoptr(GError) error = NULL;

  if (renderer != NULL)
    return renderer;
  if (display == NULL || g_getenv ("GSK_RENDERER") != NULL ||
      gtk_get_major_version () > 4 || gtk_get_minor_version () >= 14)
    return NULL;

  context = gdk_display_create_gl_context (display, &error);
  if (context == NULL || !gdk_gl_context_realize (context, &error))
    {
      g_debug ("no GL to probe (%s): GTK chooses", error ? error->message : "no context");
      return NULL;
    }
  gdk_gl_context_make_current (context);
  renderer = g_strdup ((const char *) glGetString (GL_RENDERER));
  gdk_gl_context_clear_current ();

  if (is_software (renderer))
    {
      g_debug ("GL is %s, a software rasteriser: drawing with cairo", renderer);
      g_setenv ("GSK_RENDERER", "cairo", TRUE);
    }
  return renderer;
}
