/* The pickle interpreter behind the .pth reader: data only, never code. */
#pragma once

#include "formats/cs-tensor.h"

G_BEGIN_DECLS

typedef enum
{
  CS_PICKLE_NONE,
  CS_PICKLE_BOOL,
  CS_PICKLE_INT,
  CS_PICKLE_FLOAT,
  CS_PICKLE_STR,
  CS_PICKLE_TUPLE,
  CS_PICKLE_LIST,
  CS_PICKLE_DICT,
  CS_PICKLE_GLOBAL,
  CS_PICKLE_STORAGE,
  CS_PICKLE_TENSOR,
  CS_PICKLE_MARK,
} CsPickleKind;

/* Every object lives in the machine's arena and is freed with it, in one
 * loop: containers hold plain pointers, so a deep nesting (200k TUPLE1s) or a
 * cycle (a list APPENDed to itself) neither recurses nor leaks. */
typedef struct _CsPickleObj CsPickleObj;
struct _CsPickleObj
{
  CsPickleKind kind;
  guint        depth;      /* nesting: 0 for a scalar, 1 + the deepest item for a container */
  gint64       i;
  double       f;
  char        *s;          /* STR; GLOBAL "module.name"; STORAGE key */
  char        *s2;         /* STORAGE dtype ("Float") */
  GPtrArray   *items;      /* TUPLE, LIST; DICT as key, value, key, value ... (borrowed) */
  /* TENSOR */
  CsPickleObj *storage;
  gint64       offset;
  GArray      *size;       /* gint64 */
  GArray      *stride;
};

/* The machine; it owns every object it makes. */
typedef struct _CsPickle CsPickle;

/* A machine for the pickle of @path (named in errors, borrowed) that may take
 * @budget bytes of objects. */
CsPickle    *cs_pickle_new  (const char   *path,
                             gsize         budget) G_GNUC_WARN_UNUSED_RESULT;
/* The object @data (a protocol 2 pickle) builds, owned by @self; NULL with
 * @error (CS_CHECKPOINT_ERROR) for a file that is not a plain state_dict. */
CsPickleObj *cs_pickle_run  (CsPickle     *self,
                             const guint8 *data,
                             gsize         len,
                             GError      **error);
void         cs_pickle_free (CsPickle     *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsPickle, cs_pickle_free)

G_END_DECLS
