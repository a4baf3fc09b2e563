/* Entry point: a command-line verb runs headless, anything else opens the window. */

#define G_LOG_DOMAIN "convscope"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "cs-application.h"
#include "cs-cli.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CsApplication) app = NULL;

  setlocale (LC_ALL, "");

  if (cs_cli_handles (argc, argv))
    return cs_cli_run (argc, argv);

  g_set_application_name ("Convscope");
  app = cs_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
