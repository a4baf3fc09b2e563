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

/* cs-py-text.c: Python text, strings and brackets respected */
typedef struct
{
  char  *text;     /* one logical line: continuations joined, comment removed */
  int    indent;   /* of its first physical line, tabs to multiples of 8 */
  guint  line;     /* its first physical line, from 1 */
} CsPyLine;

/* The parts of @s between top-level @sep; NULL if its brackets do not match. */
GPtrArray          *cs_py_split_top            (const char  *s,
                                                char         sep);
/* "a.b(x, y)" -> "a.b" and "x, y"; "self.c(x).view(-1, 4)" -> "self.c(x).view", "-1, 4". */
gboolean            cs_py_split_call           (const char  *s,
                                                char       **callee,
                                                char       **args);
/* The first binary operator outside brackets and strings, or 0. */
char                cs_py_top_operator         (const char  *s);
gboolean            cs_py_is_dotted_name       (const char  *s,
                                                gboolean     digits_ok);
/* @s with every name (or self.name) that @values holds replaced by its value in
 * parentheses; keyword names are left alone. */
char               *cs_py_substitute           (const char  *s,
                                                GHashTable  *values);
GPtrArray          *cs_py_logical_lines        (const char  *text,
                                                GError     **error);
/* A constant after substitution: numbers, strings, True/False/None, tuples, arithmetic. */
gboolean            cs_py_is_const_expr        (const char  *s);
/* "2 * 16" -> "32"; what is more than a number, string or bool stays as written. */
char               *cs_py_fold_constant        (const char  *text);
/* "t = v", "t += v" (@aug '+'), "t: int = v"; FALSE for no assignment. */
gboolean            cs_py_split_assignment     (const char  *text,
                                                char       **target,
                                                char       **value,
                                                char        *aug);
const char         *cs_py_first_word           (const char  *text,
                                                char        *buf,
                                                gsize        size);
/* if, for, while, with, def, ...: a statement with a body */
gboolean            cs_py_is_compound          (const char  *text);
gboolean            cs_py_is_docstring         (const char  *text);
/* "def forward(self, x) -> T:" -> "forward" and its parameters, or NULL. */
GPtrArray          *cs_py_def_params           (const char  *text,
                                                char       **name);
/* "name: type = default" -> name, and the default or NULL. */
char               *cs_py_param_name           (const char  *param,
                                                char       **deflt);

/* A spec's statements, as cs_spec_collect_statements() makes them. */
typedef struct
{
  char  *text;    /* as written */
  char  *parsed;  /* the batch written as -1: x.view(x.size(0), -1) -> x.view(-1, -1) */
  guint  line;
} CsSpecStatement;

void                cs_spec_statement_free     (CsSpecStatement *st);
GPtrArray          *cs_spec_collect_statements (const char  *text,
                                                GError     **error);

/* cs-torch-source.c: a PyTorch nn.Module class read as a spec */
gboolean            cs_torch_source_has_class  (const char  *text);
/* The spec's text for class @class_name (NULL: the only nn.Module class) of
 * @source, on an input of @input; @src_lines gets, for each line of the
 * result, the line of @source it comes from. */
char               *cs_torch_source_translate  (const char  *source,
                                                const char  *class_name,
                                                CsShape      input,
                                                GArray     **src_lines,
                                                GError     **error);

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
/* A sum's or a concatenation's output from its inputs' shapes. */
gboolean            cs_spec_infer_join_shape   (CsLayerSpec        *layer,
                                                const CsShape      *in,
                                                const char * const *from,
                                                const char         *label,
                                                GError            **error);
gboolean            cs_spec_check_sizes        (const CsLayerSpec *layer,
                                                const char        *label,
                                                guint64           *total_params,
                                                GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsSpecVal, cs_spec_val_free)

G_END_DECLS
