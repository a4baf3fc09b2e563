/* Inside the spec parser: its values, the parser state, the layer catalogue
 * and argument binding, shared by the files of spec/. */
#pragma once

#include "spec/cs-spec.h"

G_BEGIN_DECLS

typedef enum
{
  CS_SPEC_VAL_INT,
  CS_SPEC_VAL_FLOAT,
  CS_SPEC_VAL_BOOL,
  CS_SPEC_VAL_NONE,
  CS_SPEC_VAL_STR,
  CS_SPEC_VAL_IDENT,
  CS_SPEC_VAL_TUPLE,
} CsSpecValKind;

typedef struct _CsSpecVal CsSpecVal;
struct _CsSpecVal
{
  CsSpecValKind kind;
  gint64        i;
  double        f;
  char         *s;
  GPtrArray    *items; /* of CsSpecVal, for tuples */
};

typedef struct
{
  char      *key; /* NULL for a positional argument */
  CsSpecVal *val;
} CsSpecArg;

typedef struct
{
  const char *s;      /* the whole line, comment removed */
  const char *p;
  guint       line;
  GError    **error;
  gboolean    failed;
  guint       depth;
} CsSpecParser;

typedef struct
{
  const char *name;       /* as called: "Conv2d", "max_pool2d" */
  CsLayerKind kind;
  gboolean    functional;
  const char *params[10]; /* positional order, as PyTorch declares them */
  guint       n_required;
} CsLayerDef;

typedef struct
{
  const CsLayerDef *def;
  CsSpecVal        *vals[10];
  guint             line;
  const char       *label;    /* "line 3, conv1" */
  GError          **error;
} CsLayerBinding;

/* cs-spec-parser.c */
void                cs_spec_val_free           (CsSpecVal *v);
CsSpecVal          *cs_spec_val_new            (CsSpecValKind kind);
void                cs_spec_arg_free           (CsSpecArg *a);
void                cs_spec_parser_fail        (CsSpecParser *ps,
                                                const char   *format,
                                                ...) G_GNUC_PRINTF (2, 3);
void                cs_spec_parser_skip_ws     (CsSpecParser *ps);
gboolean            cs_spec_parser_accept      (CsSpecParser *ps,
                                                char          c);
gboolean            cs_spec_is_ident_start     (char c);
char               *cs_spec_parse_dotted_ident (CsSpecParser *ps);
GPtrArray          *cs_spec_parse_args         (CsSpecParser *ps);

/* cs-layers.c */
const char         *cs_spec_closest            (const char         *word,
                                                const char * const *candidates,
                                                gsize               n);
gboolean            cs_layer_bind_args         (CsLayerBinding *b,
                                                GPtrArray      *args);
gboolean            cs_layer_fill              (CsLayerBinding *b,
                                                CsLayerSpec    *layer);
const CsLayerDef   *cs_layer_def_find          (const char *callee,
                                                gboolean   *method);
char               *cs_layer_unknown_hint      (const char *callee);

/* cs-shape.c */
gboolean            cs_spec_check_view         (CsLayerSpec *layer,
                                                GPtrArray   *args,
                                                const char  *label,
                                                GError     **error);
gboolean            cs_spec_infer_shape        (CsLayerSpec   *layer,
                                                const char    *label,
                                                const char    *from,
                                                const CsShape *map_before_flat,
                                                GError       **error);
gboolean            cs_spec_check_sizes        (const CsLayerSpec *layer,
                                                const char        *label,
                                                guint64           *total_params,
                                                GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsSpecVal, cs_spec_val_free)

G_END_DECLS
