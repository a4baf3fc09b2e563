/* The headless command-line verbs (train, summary, dataset, ...). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit statuses of the verbs. */
#define CS_EXIT_OK      0
#define CS_EXIT_FAILURE 1
#define CS_EXIT_USAGE   2

typedef int (*CsCliVerbFunc) (int    argc,
                              char **argv);

/* Whether a first argument names a file to open in the window rather than a verb. */
gboolean cs_cli_is_file_argument (const char *arg);
gboolean cs_cli_handles          (int          argc,
                                  char       **argv);
int      cs_cli_run              (int          argc,
                                  char       **argv);

/* Helpers shared by the verbs. */
int      cs_cli_fail             (const GError *error);
int      cs_cli_usage_error      (const char   *verb,
                                  const char   *format,
                                  ...) G_GNUC_PRINTF (2, 3);
gboolean cs_cli_parse            (GOptionContext *context,
                                  const char   *verb,
                                  int          *argc,
                                  char       ***argv,
                                  int          *status);

int      cs_cli_train            (int          argc,
                                  char       **argv);
int      cs_cli_predict          (int          argc,
                                  char       **argv);
int      cs_cli_convert          (int          argc,
                                  char       **argv);
int      cs_cli_inspect          (int          argc,
                                  char       **argv);
int      cs_cli_render           (int          argc,
                                  char       **argv);
int      cs_cli_runs             (int          argc,
                                  char       **argv);
int      cs_cli_summary          (int          argc,
                                  char       **argv);
int      cs_cli_shapes           (int          argc,
                                  char       **argv);
int      cs_cli_bench            (int          argc,
                                  char       **argv);
int      cs_cli_dataset          (int          argc,
                                  char       **argv);

G_END_DECLS
