/* PyTorch's .pth (torch.save, zip format): a careful zip reader and a pickle interpreter that builds data and never runs code. */

#define G_LOG_DOMAIN "cs-pth"

#include "config.h"

#include <string.h>

#include "formats/cs-checkpoint-private.h"

/* ---- zip ----------------------------------------------------------------- */

typedef struct
{
  char         *name;
  const guint8 *data;
  guint64       size;
  guint32       crc;
} ZipEntry;

static void
zip_entry_free (ZipEntry *e)
{
  g_free (e->name);
  g_free (e);
}

static guint16
rd16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static guint64
rd64 (const guint8 *p)
{
  return (guint64) rd32 (p) | ((guint64) rd32 (p + 4) << 32);
}

static guint32
crc32_of (const guint8 *p,
          gsize         n)
{
  static guint32 table[256];
  static gsize init = 0;
  guint32 c = 0xffffffffu;

  if (g_once_init_enter (&init))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 v = i;
          for (int k = 0; k < 8; k++)
            v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
          table[i] = v;
        }
      g_once_init_leave (&init, 1);
    }
  for (gsize i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

#define ZFAIL(...) G_STMT_START { g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, __VA_ARGS__); return NULL; } G_STMT_END

/* The entries, with sizes and offsets from the central directory (local headers may hold zeros). */
static GPtrArray *
zip_read (const guint8 *data,
          gsize         len,
          const char   *path,
          GError      **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) zip_entry_free);
  gssize eocd = -1;
  guint64 n_entries, cd_size, cd_offset, pos;

  if (len < 22)
    ZFAIL ("%s: too short to be a zip file", path);
  for (gssize i = (gssize) len - 22; i >= 0 && i >= (gssize) len - 22 - 65535; i--)
    if (rd32 (data + i) == 0x06054b50)
      {
        eocd = i;
        break;
      }
  if (eocd < 0)
    ZFAIL ("%s: not a valid zip file (no end of central directory; is it truncated?)", path);

  n_entries = rd16 (data + eocd + 10);
  cd_size = rd32 (data + eocd + 12);
  cd_offset = rd32 (data + eocd + 16);

  /* ZIP64: the real figures are in the ZIP64 end record, found through its locator. */
  if (n_entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff)
    {
      guint64 rec;

      if (eocd < 20 || rd32 (data + eocd - 20) != 0x07064b50)
        ZFAIL ("%s: a ZIP64 file without its ZIP64 locator", path);
      rec = rd64 (data + eocd - 20 + 8);
      /* (len is checked first: len - 56 must not wrap round; found by fuzzing) */
      if (len < 56 || rec > len - 56 || rd32 (data + rec) != 0x06064b50)
        ZFAIL ("%s: the ZIP64 end record is missing or out of range", path);
      n_entries = rd64 (data + rec + 32);
      cd_size = rd64 (data + rec + 40);
      cd_offset = rd64 (data + rec + 48);
    }
  if (cd_offset > len || cd_size > len - cd_offset)
    ZFAIL ("%s: the zip central directory lies outside the file", path);
  if (n_entries > cd_size / 46)
    ZFAIL ("%s: the zip central directory claims %" G_GUINT64_FORMAT " entries, more than fit", path, n_entries);

  pos = cd_offset;
  for (guint64 i = 0; i < n_entries; i++)
    {
      const guint8 *h;
      guint16 method, name_len, extra_len, comment_len;
      guint64 csize, usize, local;
      guint64 data_start;
      ZipEntry *e;

      if (pos + 46 > cd_offset + cd_size || rd32 (data + pos) != 0x02014b50)
        ZFAIL ("%s: zip central directory entry %" G_GUINT64_FORMAT " is damaged", path, i);
      h = data + pos;
      method = rd16 (h + 10);
      csize = rd32 (h + 20);
      usize = rd32 (h + 24);
      name_len = rd16 (h + 28);
      extra_len = rd16 (h + 30);
      comment_len = rd16 (h + 32);
      local = rd32 (h + 42);
      if (pos + 46 + name_len + extra_len + comment_len > cd_offset + cd_size)
        ZFAIL ("%s: zip central directory entry %" G_GUINT64_FORMAT " runs past the directory", path, i);

      /* ZIP64 extra field: 8-byte values for the fields saturated above, in order. */
      {
        const guint8 *x = h + 46 + name_len, *xend = x + extra_len;
        while (x + 4 <= xend)
          {
            guint16 id = rd16 (x), sz = rd16 (x + 2);
            const guint8 *v = x + 4;

            if (v + sz > xend)
              break;
            if (id == 0x0001)
              {
                const guint8 *vend = v + sz;
                if (usize == 0xffffffff && v + 8 <= vend)
                  usize = rd64 (v), v += 8;
                if (csize == 0xffffffff && v + 8 <= vend)
                  csize = rd64 (v), v += 8;
                if (local == 0xffffffff && v + 8 <= vend)
                  local = rd64 (v), v += 8;
              }
            x += 4 + sz;
          }
      }

      e = g_new0 (ZipEntry, 1);
      g_ptr_array_add (entries, e);
      e->name = g_strndup ((const char *) h + 46, name_len);
      e->crc = rd32 (h + 16);
      if (method != 0)
        ZFAIL ("%s: zip entry %s is compressed (method %u); torch.save writes stored entries only",
               path, e->name, method);
      if (csize != usize)
        ZFAIL ("%s: zip entry %s: stored sizes disagree", path, e->name);
      if (len < 30 || local > len - 30 || rd32 (data + local) != 0x04034b50)
        ZFAIL ("%s: zip entry %s: its local header is missing or out of range", path, e->name);
      data_start = local + 30 + rd16 (data + local + 26) + rd16 (data + local + 28);
      if (data_start > len || usize > len - data_start)
        ZFAIL ("%s: zip entry %s runs past the end of the file (truncated?)", path, e->name);
      e->data = data + data_start;
      e->size = usize;
      pos += 46 + name_len + extra_len + comment_len;
    }
  return g_steal_pointer (&entries);
}

/* The entries by name (a hash, so 300k tensors do not take quadratic time);
 * a name given twice is refused, as two readers could pick different ones. */
static GHashTable *
zip_index (GPtrArray   *entries,
           const char  *path,
           GError     **error)
{
  g_autoptr(GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < entries->len; i++)
    {
      ZipEntry *e = g_ptr_array_index (entries, i);
      if (!g_hash_table_insert (index, e->name, e))
        ZFAIL ("%s: the zip entry %s appears twice", path, e->name);
    }
  return g_steal_pointer (&index);
}

/* ---- pickle -------------------------------------------------------------- */

typedef enum
{
  OBJ_NONE,
  OBJ_BOOL,
  OBJ_INT,
  OBJ_FLOAT,
  OBJ_STR,
  OBJ_TUPLE,
  OBJ_LIST,
  OBJ_DICT,
  OBJ_GLOBAL,
  OBJ_STORAGE,
  OBJ_TENSOR,
  OBJ_MARK,
} ObjKind;

/* Every object lives in the machine's arena and is freed with it, in one
 * loop: containers hold plain pointers, so a deep nesting (200k TUPLE1s) or a
 * cycle (a list APPENDed to itself) neither recurses nor leaks. */
typedef struct _Obj Obj;
struct _Obj
{
  ObjKind     kind;
  guint       depth;      /* nesting: 0 for a scalar, 1 + the deepest item for a container */
  gint64      i;
  double      f;
  char       *s;          /* STR; GLOBAL "module.name"; STORAGE key */
  char       *s2;         /* STORAGE dtype ("Float") */
  GPtrArray  *items;      /* TUPLE, LIST; DICT as key, value, key, value ... (borrowed) */
  /* TENSOR */
  Obj        *storage;
  gint64      offset;
  GArray     *size;       /* gint64 */
  GArray     *stride;
};

static void
obj_free (Obj *o)
{
  g_free (o->s);
  g_free (o->s2);
  g_clear_pointer (&o->items, g_ptr_array_unref);
  g_clear_pointer (&o->size, g_array_unref);
  g_clear_pointer (&o->stride, g_array_unref);
  g_free (o);
}

/* The only globals a state_dict needs. Anything else is refused, never looked up. */
static const char * const allowed_globals[] = {
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch.FloatStorage",
  "torch.DoubleStorage",
  "torch.HalfStorage",
  "torch.BFloat16Storage",
  "torch.LongStorage",
  "torch.IntStorage",
  "torch.ShortStorage",
  "torch.CharStorage",
  "torch.ByteStorage",
  "torch.BoolStorage",
};

typedef struct
{
  const guint8 *p;
  const guint8 *end;
  const guint8 *start;
  const char   *path;
  GPtrArray    *stack;     /* of Obj */
  GArray       *marks;     /* stack depths */
  GHashTable   *memo;      /* gint64 -> Obj */
  GPtrArray    *arena;     /* owns every Obj */
  GError      **error;
  gboolean      failed;
  gsize         bytes;     /* what the objects, their items, strings and the memo take */
  gsize         budget;
  /* Immutable values made once: None, False, True, (), and 0..255 (BININT1),
   * which are most of a state_dict's objects. */
  Obj          *none, *bools[2], *empty_tuple, *small_ints[256];
} Vm;

/* Limits no state_dict comes near: torch.save's pickler keeps the stack at a
 * few thousand items (SETITEMS in batches of 1,000) and nests four deep. */
#define MAX_STACK   (1u << 20)
#define MAX_MARKS   4096
#define MAX_DEPTH   64
/* Bytes of bookkeeping per object, item and memo entry (malloc's headers and the hash node). */
#define OBJ_COST    (sizeof (Obj) + 16)
#define ARRAY_COST  64
#define ITEM_COST   8
#define MEMO_COST   64

static void vm_fail (Vm *vm, int code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
vm_fail (Vm         *vm,
         int         code,
         const char *format,
         ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  if (vm->failed)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (vm->error, CS_CHECKPOINT_ERROR, code, "%s: data.pkl: %s (at byte %" G_GSSIZE_FORMAT ")",
               vm->path, msg, (gssize) (vm->p - vm->start));
  vm->failed = TRUE;
}

static gboolean
need (Vm   *vm,
      gsize n)
{
  if ((gsize) (vm->end - vm->p) < n)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle ends early");
      return FALSE;
    }
  return TRUE;
}

/* Counts @n more bytes against the budget; FALSE (and the machine failed) past it. */
static gboolean
charge (Vm    *vm,
        gsize  n)
{
  if (vm->failed)
    return FALSE;
  if (n > vm->budget - MIN (vm->bytes, vm->budget) || vm->bytes + n > vm->budget)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT,
               "unpickling it would take more than %" G_GSIZE_FORMAT " MB, more than a state_dict of "
               "%" G_GSIZE_FORMAT " bytes can need",
               vm->budget / 1000000, (gsize) (vm->end - vm->start));
      return FALSE;
    }
  vm->bytes += n;
  return TRUE;
}

/* A new object; a container gets room for @reserve items. */
static Obj *
obj_new_sized (Vm      *vm,
               ObjKind  kind,
               guint    reserve)
{
  Obj *o;

  if (!charge (vm, OBJ_COST))
    return NULL;
  if ((kind == OBJ_TUPLE || kind == OBJ_LIST || kind == OBJ_DICT) && !charge (vm, ARRAY_COST))
    return NULL;
  o = g_new0 (Obj, 1);
  o->kind = kind;
  if (kind == OBJ_TUPLE || kind == OBJ_LIST || kind == OBJ_DICT)
    o->items = g_ptr_array_sized_new (reserve);
  g_ptr_array_add (vm->arena, o);
  return o;
}

static Obj *
obj_new (Vm      *vm,
         ObjKind  kind)
{
  return obj_new_sized (vm, kind, 0);
}

/* A shared immutable value, made on first use. */
static Obj *
shared (Vm      *vm,
        Obj    **slot,
        ObjKind  kind,
        gint64   i)
{
  if (*slot == NULL && (*slot = obj_new (vm, kind)) != NULL)
    (*slot)->i = i;
  return *slot;
}

/* Adds @item to the container @o, keeping its nesting depth. */
static gboolean
add_item (Vm  *vm,
          Obj *o,
          Obj *item)
{
  if (!charge (vm, ITEM_COST))
    return FALSE;
  if (item->depth + 1 > o->depth)
    o->depth = item->depth + 1;
  if (o->depth > MAX_DEPTH)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "objects nested more than %d deep", MAX_DEPTH);
      return FALSE;
    }
  g_ptr_array_add (o->items, item);
  return TRUE;
}

/* A container of kind @kind holding @items (borrowed). */
static Obj *
container_of (Vm        *vm,
              ObjKind    kind,
              GPtrArray *items)
{
  Obj *o;

  if (kind == OBJ_TUPLE && items->len == 0)
    return shared (vm, &vm->empty_tuple, OBJ_TUPLE, 0);
  /* Sized once: a container built whole does not grow. */
  o = obj_new_sized (vm, kind, items->len);
  for (guint k = 0; o != NULL && k < items->len; k++)
    if (!add_item (vm, o, g_ptr_array_index (items, k)))
      return NULL;
  return o;
}

static void
push (Vm  *vm,
      Obj *o)
{
  if (o == NULL || vm->failed)
    return;
  if (vm->stack->len >= MAX_STACK)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle's stack grows past %u items", MAX_STACK);
      return;
    }
  g_ptr_array_add (vm->stack, o);
}

static Obj *
pop (Vm *vm)
{
  guint floor = vm->marks->len ? g_array_index (vm->marks, guint, vm->marks->len - 1) : 0;

  if (vm->stack->len <= floor)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle pops an empty stack");
      return NULL;
    }
  return g_ptr_array_steal_index (vm->stack, vm->stack->len - 1);
}

static Obj *
top (Vm *vm)
{
  if (vm->stack->len == 0)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle's stack is empty");
      return NULL;
    }
  return g_ptr_array_index (vm->stack, vm->stack->len - 1);
}

/* Pops everything above the last MARK into a new array. */
static GPtrArray *
pop_mark (Vm *vm)
{
  GPtrArray *items;
  guint mark;

  if (vm->marks->len == 0)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle has no MARK to pop to");
      return NULL;
    }
  mark = g_array_index (vm->marks, guint, vm->marks->len - 1);
  g_array_set_size (vm->marks, vm->marks->len - 1);
  items = g_ptr_array_new ();
  for (guint i = mark; i < vm->stack->len; i++)
    g_ptr_array_add (items, g_ptr_array_index (vm->stack, i));
  g_ptr_array_set_size (vm->stack, mark);
  return items;
}

static void
memo_put (Vm     *vm,
          gint64  key)
{
  Obj *o = top (vm);
  if (o != NULL && charge (vm, MEMO_COST))
    g_hash_table_insert (vm->memo, g_memdup2 (&key, sizeof key), o);
}

static void
memo_get (Vm     *vm,
          gint64  key)
{
  Obj *o = g_hash_table_lookup (vm->memo, &key);

  if (o == NULL)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle reads memo %" G_GINT64_FORMAT " before writing it", key);
      return;
    }
  push (vm, o);
}

static Obj *
make_global (Vm         *vm,
             const char *module,
             const char *name)
{
  g_autofree char *full = g_strconcat (module, ".", name, NULL);
  Obj *o;

  for (guint i = 0; i < G_N_ELEMENTS (allowed_globals); i++)
    if (g_str_equal (full, allowed_globals[i]))
      {
        o = obj_new (vm, OBJ_GLOBAL);
        if (o != NULL)
          o->s = g_steal_pointer (&full);
        return o;
      }
  if (g_str_has_prefix (full, "__main__.") || strstr (full, ".nn.modules.") != NULL)
    vm_fail (vm, CS_CHECKPOINT_ERROR_FORBIDDEN,
             "the file holds a whole pickled model (it names %s); Convscope reads state_dicts only: "
             "save with torch.save(model.state_dict(), path)", full);
  else
    vm_fail (vm, CS_CHECKPOINT_ERROR_FORBIDDEN,
             "the pickle asks for %s, which is not part of a state_dict; Convscope never runs code from a file, "
             "so it refuses it", full);
  return NULL;
}

static char *
read_line (Vm *vm)
{
  const guint8 *nl = memchr (vm->p, '\n', vm->end - vm->p);
  char *s;

  if (nl == NULL)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "a GLOBAL without its newline");
      return NULL;
    }
  s = g_strndup ((const char *) vm->p, nl - vm->p);
  vm->p = nl + 1;
  return s;
}

static void
push_str (Vm    *vm,
          gsize  n)
{
  Obj *o;

  if (!need (vm, n))
    return;
  if (!g_utf8_validate ((const char *) vm->p, (gssize) n, NULL))
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "a string is not valid UTF-8");
      return;
    }
  if (!charge (vm, n + 1) || (o = obj_new (vm, OBJ_STR)) == NULL)
    return;
  o->s = g_strndup ((const char *) vm->p, n);
  vm->p += n;
  push (vm, o);
}

static gboolean
obj_int (const Obj *o,
         gint64    *out)
{
  if (o == NULL || (o->kind != OBJ_INT && o->kind != OBJ_BOOL))
    return FALSE;
  *out = o->i;
  return TRUE;
}

static GArray *
int_tuple (const Obj *o)
{
  GArray *a;

  if (o == NULL || o->kind != OBJ_TUPLE)
    return NULL;
  a = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < o->items->len; i++)
    {
      gint64 v;
      if (!obj_int (g_ptr_array_index (o->items, i), &v))
        {
          g_array_unref (a);
          return NULL;
        }
      g_array_append_val (a, v);
    }
  return a;
}

/* callable(*args) for the allowed callables. */
static Obj *
reduce (Vm  *vm,
        Obj *callable,
        Obj *args)
{
  if (callable->kind != OBJ_GLOBAL || args->kind != OBJ_TUPLE)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "REDUCE on something that is not a known callable");
      return NULL;
    }
  if (g_str_equal (callable->s, "collections.OrderedDict"))
    return obj_new (vm, OBJ_DICT);
  if (g_str_equal (callable->s, "torch._utils._rebuild_tensor_v2"))
    {
      Obj *t, *storage;
      gint64 offset;

      if (args->items->len < 4)
        {
          vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "_rebuild_tensor_v2 with %u arguments", args->items->len);
          return NULL;
        }
      storage = g_ptr_array_index (args->items, 0);
      if (storage->kind != OBJ_STORAGE || !obj_int (g_ptr_array_index (args->items, 1), &offset) || offset < 0)
        {
          vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "_rebuild_tensor_v2 without a storage and offset");
          return NULL;
        }
      if ((t = obj_new (vm, OBJ_TENSOR)) == NULL)
        return NULL;
      t->storage = storage;
      t->offset = offset;
      t->size = int_tuple (g_ptr_array_index (args->items, 2));
      t->stride = int_tuple (g_ptr_array_index (args->items, 3));
      if (t->size == NULL || t->stride == NULL || t->size->len != t->stride->len || t->size->len > 8)
        {
          vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "a tensor with a malformed size or stride");
          return NULL;
        }
      return t;
    }
  if (g_str_equal (callable->s, "torch._utils._rebuild_parameter"))
    {
      Obj *t = args->items->len ? g_ptr_array_index (args->items, 0) : NULL;
      if (t == NULL || t->kind != OBJ_TENSOR)
        {
          vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "_rebuild_parameter without a tensor");
          return NULL;
        }
      return t;
    }
  vm_fail (vm, CS_CHECKPOINT_ERROR_FORBIDDEN, "the pickle calls %s, which Convscope does not run", callable->s);
  return NULL;
}

static void
persistent_load (Vm *vm)
{
  Obj *pid = pop (vm);
  Obj *kind, *type, *key, *o;
  gint64 numel;

  if (pid == NULL)
    return;
  if (pid->kind != OBJ_TUPLE || pid->items->len < 5 ||
      (kind = g_ptr_array_index (pid->items, 0))->kind != OBJ_STR || !g_str_equal (kind->s, "storage") ||
      (type = g_ptr_array_index (pid->items, 1))->kind != OBJ_GLOBAL ||
      (key = g_ptr_array_index (pid->items, 2))->kind != OBJ_STR ||
      !obj_int (g_ptr_array_index (pid->items, 4), &numel) || numel < 0)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "a persistent id that is not a (\"storage\", type, key, location, numel) tuple");
      return;
    }
  if (!g_str_has_suffix (type->s, "Storage"))
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "a storage of type %s", type->s);
      return;
    }
  if ((o = obj_new (vm, OBJ_STORAGE)) == NULL)
    return;
  o->s = g_strdup (key->s);
  o->s2 = g_strndup (type->s + strlen ("torch."), strlen (type->s) - strlen ("torch.") - strlen ("Storage"));
  o->i = numel;
  push (vm, o);
}

static Obj *
vm_run (Vm *vm)
{
  while (!vm->failed)
    {
      guint8 op;

      if (!need (vm, 1))
        break;
      op = *vm->p++;
      switch (op)
        {
        case 0x80: /* PROTO */
          if (need (vm, 1))
            {
              if (*vm->p > 5)
                vm_fail (vm, CS_CHECKPOINT_ERROR_UNSUPPORTED, "pickle protocol %u", *vm->p);
              vm->p++;
            }
          break;
        case 0x95: /* FRAME */
          if (need (vm, 8))
            vm->p += 8;
          break;
        case '.': /* STOP */
          return pop (vm);
        case 'c': /* GLOBAL */
          {
            g_autofree char *module = read_line (vm);
            g_autofree char *name = module ? read_line (vm) : NULL;
            Obj *g;
            if (name == NULL)
              break;
            if ((g = make_global (vm, module, name)) != NULL)
              push (vm, g);
          }
          break;
        case 0x93: /* STACK_GLOBAL */
          {
            Obj *name = pop (vm);
            Obj *module = name ? pop (vm) : NULL;
            Obj *g;
            if (module == NULL)
              break;
            if (module->kind != OBJ_STR || name->kind != OBJ_STR)
              {
                vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "STACK_GLOBAL without two strings");
                break;
              }
            if ((g = make_global (vm, module->s, name->s)) != NULL)
              push (vm, g);
          }
          break;
        case 'q': /* BINPUT */
          if (need (vm, 1))
            memo_put (vm, *vm->p++);
          break;
        case 'r': /* LONG_BINPUT */
          if (need (vm, 4))
            {
              memo_put (vm, rd32 (vm->p));
              vm->p += 4;
            }
          break;
        case 0x94: /* MEMOIZE */
          memo_put (vm, g_hash_table_size (vm->memo));
          break;
        case 'h': /* BINGET */
          if (need (vm, 1))
            memo_get (vm, *vm->p++);
          break;
        case 'j': /* LONG_BINGET */
          if (need (vm, 4))
            {
              memo_get (vm, rd32 (vm->p));
              vm->p += 4;
            }
          break;
        case '(': /* MARK */
          {
            guint depth = vm->stack->len;
            if (vm->marks->len >= MAX_MARKS)
              vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "more than %d MARKs open at once", MAX_MARKS);
            else
              g_array_append_val (vm->marks, depth);
          }
          break;
        case ')': /* EMPTY_TUPLE */
          push (vm, shared (vm, &vm->empty_tuple, OBJ_TUPLE, 0));
          break;
        case 't': /* TUPLE */
          {
            g_autoptr(GPtrArray) items = pop_mark (vm);
            if (items != NULL)
              push (vm, container_of (vm, OBJ_TUPLE, items));
          }
          break;
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
          {
            guint n = op - 0x84;
            g_autoptr(GPtrArray) parts = g_ptr_array_new ();
            for (guint k = 0; k < n && !vm->failed; k++)
              {
                Obj *part = pop (vm);
                if (part != NULL)
                  g_ptr_array_insert (parts, 0, part);
              }
            if (!vm->failed)
              push (vm, container_of (vm, OBJ_TUPLE, parts));
          }
          break;
        case 'X': /* BINUNICODE */
          if (need (vm, 4))
            {
              guint32 n = rd32 (vm->p);
              vm->p += 4;
              push_str (vm, n);
            }
          break;
        case 0x8c: /* SHORT_BINUNICODE */
          if (need (vm, 1))
            {
              guint8 n = *vm->p++;
              push_str (vm, n);
            }
          break;
        case 0x8d: /* BINUNICODE8 */
          if (need (vm, 8))
            {
              guint64 n = rd64 (vm->p);
              vm->p += 8;
              push_str (vm, (gsize) MIN (n, G_MAXSIZE));
            }
          break;
        case 'U': /* SHORT_BINSTRING (bytes, e.g. "little") */
          if (need (vm, 1))
            {
              guint8 n = *vm->p++;
              push_str (vm, n);
            }
          break;
        case 'J': /* BININT */
          if (need (vm, 4))
            {
              Obj *o = obj_new (vm, OBJ_INT);
              if (o == NULL)
                break;
              o->i = (gint32) rd32 (vm->p);
              vm->p += 4;
              push (vm, o);
            }
          break;
        case 'K': /* BININT1 */
          if (need (vm, 1))
            {
              guint8 v = *vm->p++;
              push (vm, shared (vm, &vm->small_ints[v], OBJ_INT, v));
            }
          break;
        case 'M': /* BININT2 */
          if (need (vm, 2))
            {
              Obj *o = obj_new (vm, OBJ_INT);
              if (o == NULL)
                break;
              o->i = rd16 (vm->p);
              vm->p += 2;
              push (vm, o);
            }
          break;
        case 0x8a: /* LONG1: little-endian two's complement */
          if (need (vm, 1))
            {
              guint8 n = *vm->p++;
              Obj *o;
              guint64 u = 0;
              gint64 v;
              if (n > 8)
                {
                  vm_fail (vm, CS_CHECKPOINT_ERROR_UNSUPPORTED, "an integer of %u bytes", n);
                  break;
                }
              if (!need (vm, n))
                break;
              /* Unsigned: a byte shifted into bit 63 of a signed value is undefined
               * (found by fuzz-pickle). Then sign-extended from n bytes. */
              for (guint k = 0; k < n; k++)
                u |= (guint64) vm->p[k] << (8 * k);
              if (n > 0 && n < 8 && (vm->p[n - 1] & 0x80))
                u |= ~(guint64) 0 << (8 * n);
              v = (gint64) u;
              vm->p += n;
              if ((o = obj_new (vm, OBJ_INT)) == NULL)
                break;
              o->i = v;
              push (vm, o);
            }
          break;
        case 'G': /* BINFLOAT: big-endian double */
          if (need (vm, 8))
            {
              guint64 bits = 0;
              Obj *o = obj_new (vm, OBJ_FLOAT);
              if (o == NULL)
                break;
              for (int k = 0; k < 8; k++)
                bits = (bits << 8) | vm->p[k];
              memcpy (&o->f, &bits, 8);
              vm->p += 8;
              push (vm, o);
            }
          break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
          push (vm, shared (vm, &vm->bools[op == 0x88], OBJ_BOOL, op == 0x88));
          break;
        case 'N': /* NONE */
          push (vm, shared (vm, &vm->none, OBJ_NONE, 0));
          break;
        case '}': /* EMPTY_DICT */
          push (vm, obj_new (vm, OBJ_DICT));
          break;
        case ']': /* EMPTY_LIST */
          push (vm, obj_new (vm, OBJ_LIST));
          break;
        case 'd': /* DICT */
        case 'l': /* LIST */
          {
            g_autoptr(GPtrArray) items = pop_mark (vm);
            if (items == NULL)
              break;
            if (op == 'd' && items->len % 2 != 0)
              {
                vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "DICT with an odd number of items");
                break;
              }
            push (vm, container_of (vm, op == 'd' ? OBJ_DICT : OBJ_LIST, items));
          }
          break;
        case 's': /* SETITEM */
          {
            Obj *v = pop (vm), *k = v ? pop (vm) : NULL, *d = k ? top (vm) : NULL;
            if (d == NULL || d->kind != OBJ_DICT)
              {
                vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "SETITEM on something that is not a dict");
                break;
              }
            if (add_item (vm, d, k))
              add_item (vm, d, v);
          }
          break;
        case 'u': /* SETITEMS */
        case 'e': /* APPENDS */
          {
            g_autoptr(GPtrArray) items = pop_mark (vm);
            Obj *d = items ? top (vm) : NULL;
            if (d == NULL || (op == 'u' && (d->kind != OBJ_DICT || items->len % 2 != 0)) ||
                (op == 'e' && d->kind != OBJ_LIST))
              {
                vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "%s on the wrong kind of object",
                         op == 'u' ? "SETITEMS" : "APPENDS");
                break;
              }
            for (guint k = 0; k < items->len && add_item (vm, d, g_ptr_array_index (items, k)); k++)
              ;
          }
          break;
        case 'a': /* APPEND */
          {
            Obj *v = pop (vm), *l = v ? top (vm) : NULL;
            if (l == NULL || l->kind != OBJ_LIST)
              {
                vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "APPEND on something that is not a list");
                break;
              }
            add_item (vm, l, v);
          }
          break;
        case 'R': /* REDUCE */
          {
            Obj *args = pop (vm);
            Obj *callable = args ? pop (vm) : NULL;
            Obj *r;
            if (callable == NULL)
              break;
            if ((r = reduce (vm, callable, args)) != NULL)
              push (vm, r);
          }
          break;
        case 'b': /* BUILD: state for the object below; a state_dict's _metadata is not needed */
          {
            Obj *state = pop (vm);
            Obj *o = state ? top (vm) : NULL;
            if (o == NULL)
              break;
            if (o->kind != OBJ_DICT && o->kind != OBJ_TENSOR)
              vm_fail (vm, CS_CHECKPOINT_ERROR_FORBIDDEN, "BUILD on an object Convscope does not construct");
          }
          break;
        case 'Q': /* BINPERSID */
          persistent_load (vm);
          break;
        case 0x81: /* NEWOBJ */
          {
            Obj *args = pop (vm);
            Obj *cls = args ? pop (vm) : NULL;
            Obj *r;
            if (cls == NULL)
              break;
            if (cls->kind == OBJ_GLOBAL && g_str_equal (cls->s, "collections.OrderedDict"))
              push (vm, obj_new (vm, OBJ_DICT));
            else if ((r = reduce (vm, cls, args)) != NULL)
              push (vm, r);
          }
          break;
        default:
          vm_fail (vm, CS_CHECKPOINT_ERROR_UNSUPPORTED, "pickle opcode 0x%02x is not used by state_dicts", op);
          break;
        }
    }
  return NULL;
}

/* ---- tensors ------------------------------------------------------------- */

static const char *
storage_dtype (const char *kind)
{
  static const struct { const char *storage, *dtype; } map[] = {
    { "Float", "F32" }, { "Double", "F64" }, { "Half", "F16" }, { "BFloat16", "BF16" },
    { "Long", "I64" }, { "Int", "I32" }, { "Short", "I16" }, { "Char", "I8" }, { "Byte", "U8" }, { "Bool", "BOOL" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_equal (map[i].storage, kind))
      return map[i].dtype;
  return NULL;
}

/* The tensor @t names, gathered from its storage into row-major float32.
 * Every index is checked before it is used: sizes and strides must be
 * non-negative, the furthest element (offset + sum (size - 1) * stride,
 * computed without wrapping) must lie in the storage, and the tensor may not
 * have more elements than its storage (a stride-0 view such as expand() would
 * turn one float into gigabytes; state_dicts never hold one). @budget is what
 * all the tensors together may still take, in bytes. */
static CsTensor *
materialize (Obj         *t,
             const char  *name,
             GHashTable  *entries,
             const char  *root,
             const char  *path,
             gsize       *budget,
             GError     **error)
{
  g_autofree char *entry_name = g_strdup_printf ("%s/data/%s", root, t->storage->s);
  g_autofree guint8 *dense = NULL;
  const char *dtype = storage_dtype (t->storage->s2);
  ZipEntry *e = g_hash_table_lookup (entries, entry_name);
  CsTensor *out;
  gsize elem, numel = 1, out_bytes;
  guint64 max_index = (guint64) t->offset;
  int ndim = (int) t->size->len;
  gint64 idx[8] = { 0 };

  if (dtype == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                   "%s: tensor %s has an unsupported storage type %sStorage", path, name, t->storage->s2);
      return NULL;
    }
  elem = cs_dtype_size (dtype);
  if (e == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s needs the zip entry %s, which is missing", path, name, entry_name);
      return NULL;
    }
  if ((guint64) t->storage->i > e->size / elem)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: storage %s should hold %" G_GINT64_FORMAT " elements but its entry has %" G_GUINT64_FORMAT " bytes",
                   path, t->storage->s, t->storage->i, e->size);
      return NULL;
    }
  for (int d = 0; d < ndim; d++)
    {
      gint64 sz = g_array_index (t->size, gint64, d), st = g_array_index (t->stride, gint64, d);
      guint64 reach;

      if (sz < 0 || sz > G_MAXINT32 || st < 0 || !g_size_checked_mul (&numel, numel, (gsize) sz))
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                       "%s: tensor %s has an invalid size or stride in dimension %d", path, name, d);
          return NULL;
        }
      if (sz > 0 && (!g_uint64_checked_mul (&reach, (guint64) (sz - 1), (guint64) st) ||
                     !g_uint64_checked_add (&max_index, max_index, reach)))
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                       "%s: tensor %s: its strides reach past 2^64 elements", path, name);
          return NULL;
        }
    }
  if (numel > 0 && max_index >= (guint64) t->storage->i)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s reaches element %" G_GUINT64_FORMAT " of a storage of %" G_GINT64_FORMAT,
                   path, name, max_index, t->storage->i);
      return NULL;
    }
  if (numel > (guint64) t->storage->i)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s has %" G_GSIZE_FORMAT " elements but its storage only %" G_GINT64_FORMAT
                   " (a view that repeats elements, not a saved tensor)", path, name, numel, t->storage->i);
      return NULL;
    }
  /* numel <= storage elements <= entry bytes / elem, so neither product below can wrap. */
  out_bytes = numel * sizeof (float);
  if (out_bytes > *budget)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: tensor %s: the tensors would take more memory than a file of this size can hold "
                   "(views share their storage)", path, name);
      return NULL;
    }
  *budget -= out_bytes;

  /* Gather by offset and strides into row-major order. */
  dense = g_malloc (MAX (1, numel * elem));
  for (gsize k = 0; k < numel; k++)
    {
      guint64 src = (guint64) t->offset;
      for (int d = 0; d < ndim; d++)
        src += (guint64) idx[d] * (guint64) g_array_index (t->stride, gint64, d);
      g_assert (src < (guint64) t->storage->i);
      memcpy (dense + k * elem, e->data + src * elem, elem);
      for (int d = ndim - 1; d >= 0; d--)
        {
          if (++idx[d] < g_array_index (t->size, gint64, d))
            break;
          idx[d] = 0;
        }
    }

  out = g_new0 (CsTensor, 1);
  out->name = g_strdup (name);
  out->dtype = g_strdup_printf ("torch.%sStorage", t->storage->s2);
  out->ndim = ndim;
  for (int d = 0; d < ndim; d++)
    out->shape[d] = (int) g_array_index (t->size, gint64, d);
  out->numel = numel;
  out->data = cs_tensor_convert (dense, dtype, numel);
  return out;
}

/* A state_dict is a dict of tensors; checkpoints often nest it ({"model": ..., "optimizer": ...}). */
static Obj *
find_state_dict (Obj *o,
                 int  depth)
{
  gboolean has_tensor = FALSE;

  if (o->kind != OBJ_DICT || depth > 3)
    return NULL;
  for (guint i = 1; i < o->items->len; i += 2)
    if (((Obj *) g_ptr_array_index (o->items, i))->kind == OBJ_TENSOR)
      has_tensor = TRUE;
  if (has_tensor)
    return o;
  for (guint i = 0; i + 1 < o->items->len; i += 2)
    {
      Obj *k = g_ptr_array_index (o->items, i), *v = g_ptr_array_index (o->items, i + 1);
      if (k->kind == OBJ_STR && (g_str_equal (k->s, "state_dict") || g_str_equal (k->s, "model_state_dict") ||
                                 g_str_equal (k->s, "model")))
        {
          Obj *found = find_state_dict (v, depth + 1);
          if (found)
            return found;
        }
    }
  return NULL;
}

static void
vm_clear (Vm *vm)
{
  g_clear_pointer (&vm->stack, g_ptr_array_unref);
  g_clear_pointer (&vm->marks, g_array_unref);
  g_clear_pointer (&vm->memo, g_hash_table_unref);
  g_clear_pointer (&vm->arena, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Vm, vm_clear)

CsCheckpoint *
cs_pth_parse (const guint8 *data,
              gsize         len,
              const char   *path,
              GError      **error)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GHashTable) by_name = NULL;
  g_autoptr(CsCheckpoint) self = NULL;
  g_autofree char *root = NULL;
  g_auto(Vm) vm = { 0 };
  ZipEntry *pkl = NULL, *order;
  Obj *result, *sd;
  gsize tensor_budget;

  entries = zip_read (data, len, path, error);
  if (entries == NULL)
    return NULL;
  by_name = zip_index (entries, path, error);
  if (by_name == NULL)
    return NULL;
  for (guint i = 0; i < entries->len; i++)
    {
      ZipEntry *e = g_ptr_array_index (entries, i);
      if (g_str_has_suffix (e->name, "/data.pkl") && strchr (e->name, '/') == strrchr (e->name, '/'))
        pkl = e;
    }
  if (pkl == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: a zip file, but not one torch.save wrote (no <name>/data.pkl)", path);
      return NULL;
    }
  root = g_strndup (pkl->name, strlen (pkl->name) - strlen ("/data.pkl"));
  if (crc32_of (pkl->data, pkl->size) != pkl->crc)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT,
                   "%s: %s is damaged (its CRC does not match)", path, pkl->name);
      return NULL;
    }
  {
    g_autofree char *bo_name = g_strdup_printf ("%s/byteorder", root);
    order = g_hash_table_lookup (by_name, bo_name);
    if (order != NULL && !(order->size == 6 && memcmp (order->data, "little", 6) == 0))
      {
        g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                     "%s: the tensors are stored big-endian, which Convscope does not read", path);
        return NULL;
      }
  }

  vm.p = vm.start = pkl->data;
  vm.end = pkl->data + pkl->size;
  vm.path = path;
  vm.error = error;
  vm.stack = g_ptr_array_new ();
  vm.marks = g_array_new (FALSE, FALSE, sizeof (guint));
  vm.memo = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  vm.arena = g_ptr_array_new_with_free_func ((GDestroyNotify) obj_free);
  /* A state_dict's pickle takes up to about 13 bytes of objects per byte
   * (/core/checkpoint/many-tensors: 100k tensors, each global and string
   * written out rather than memoized); the budget leaves room for more. */
  vm.budget = CS_PTH_VM_FIXED_BUDGET + CS_PTH_VM_BUDGET_PER_BYTE * pkl->size;
  result = vm_run (&vm);
  if (result == NULL)
    {
      if (!vm.failed)
        g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, "%s: data.pkl holds nothing", path);
      return NULL;
    }

  sd = find_state_dict (result, 0);
  if (sd == NULL)
    {
      g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_UNSUPPORTED,
                   "%s: the file holds no state_dict (a dict of tensors)", path);
      return NULL;
    }

  /* Float32 copies of the tensors: at most twice the file (float16 doubles),
   * however the views share storage. */
  tensor_budget = 2 * len + 4096;
  self = cs_checkpoint_new_empty (path, "pytorch");
  for (guint i = 0; i + 1 < sd->items->len; i += 2)
    {
      Obj *k = g_ptr_array_index (sd->items, i), *v = g_ptr_array_index (sd->items, i + 1);
      CsTensor *t;

      if (k->kind != OBJ_STR || v->kind != OBJ_TENSOR)
        continue;
      if (cs_checkpoint_find (self, k->s) != NULL)
        {
          g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, "%s: tensor %s appears twice", path, k->s);
          return NULL;
        }
      t = materialize (v, k->s, by_name, root, path, &tensor_budget, error);
      if (t == NULL)
        return NULL;
      cs_checkpoint_add_tensor (self, t);
    }
  return g_steal_pointer (&self);
}
