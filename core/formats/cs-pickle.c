/* A pickle interpreter for state_dicts: it builds data (dicts, tuples,
 * tensors that name their storage) and never runs code; every global outside
 * a short list is refused, and memory, stack and nesting are bounded. */

#define G_LOG_DOMAIN "cs-pth"

#include "config.h"

#include <string.h>

#include "base/cs-bytes.h"
#include "formats/cs-pickle.h"

static void
obj_free (CsPickleObj *o)
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

struct _CsPickle
{
  const guint8 *p;
  const guint8 *end;
  const guint8 *start;
  const char   *path;
  GPtrArray    *stack;     /* of CsPickleObj */
  GArray       *marks;     /* stack depths */
  GHashTable   *memo;      /* gint64 -> CsPickleObj */
  GPtrArray    *arena;     /* owns every CsPickleObj */
  GError      **error;
  gboolean      failed;
  gsize         bytes;     /* what the objects, their items, strings and the memo take */
  gsize         budget;
  /* Immutable values made once: None, False, True, (), and 0..255 (BININT1),
   * which are most of a state_dict's objects. */
  CsPickleObj  *none, *bools[2], *empty_tuple, *small_ints[256];
};

/* Limits no state_dict comes near: torch.save's pickler keeps the stack at a
 * few thousand items (SETITEMS in batches of 1,000) and nests four deep. */
#define MAX_STACK   (1u << 20)
#define MAX_MARKS   4096
#define MAX_DEPTH   64
/* Bytes of bookkeeping per object, item and memo entry (malloc's headers and the hash node). */
#define OBJ_COST    (sizeof (CsPickleObj) + 16)
#define ARRAY_COST  64
#define ITEM_COST   8
#define MEMO_COST   64

static void vm_fail (CsPickle *vm, int code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
vm_fail (CsPickle         *vm,
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
need (CsPickle *vm,
      gsize     n)
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
charge (CsPickle *vm,
        gsize     n)
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
static CsPickleObj *
obj_new_sized (CsPickle    *vm,
               CsPickleKind kind,
               guint        reserve)
{
  CsPickleObj *o;

  if (!charge (vm, OBJ_COST))
    return NULL;
  if ((kind == CS_PICKLE_TUPLE || kind == CS_PICKLE_LIST || kind == CS_PICKLE_DICT) && !charge (vm, ARRAY_COST))
    return NULL;
  o = g_new0 (CsPickleObj, 1);
  o->kind = kind;
  if (kind == CS_PICKLE_TUPLE || kind == CS_PICKLE_LIST || kind == CS_PICKLE_DICT)
    o->items = g_ptr_array_sized_new (reserve);
  g_ptr_array_add (vm->arena, o);
  return o;
}

static CsPickleObj *
obj_new (CsPickle    *vm,
         CsPickleKind kind)
{
  return obj_new_sized (vm, kind, 0);
}

/* A shared immutable value, made on first use. */
static CsPickleObj *
shared (CsPickle     *vm,
        CsPickleObj **slot,
        CsPickleKind  kind,
        gint64        i)
{
  if (*slot == NULL && (*slot = obj_new (vm, kind)) != NULL)
    (*slot)->i = i;
  return *slot;
}

/* Adds @item to the container @o, keeping its nesting depth. */
static gboolean
add_item (CsPickle    *vm,
          CsPickleObj *o,
          CsPickleObj *item)
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
static CsPickleObj *
container_of (CsPickle    *vm,
              CsPickleKind kind,
              GPtrArray   *items)
{
  CsPickleObj *o;

  if (kind == CS_PICKLE_TUPLE && items->len == 0)
    return shared (vm, &vm->empty_tuple, CS_PICKLE_TUPLE, 0);
  /* Sized once: a container built whole does not grow. */
  o = obj_new_sized (vm, kind, items->len);
  for (guint k = 0; o != NULL && k < items->len; k++)
    if (!add_item (vm, o, g_ptr_array_index (items, k)))
      return NULL;
  return o;
}

static void
push (CsPickle    *vm,
      CsPickleObj *o)
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

static CsPickleObj *
pop (CsPickle *vm)
{
  guint floor = vm->marks->len ? g_array_index (vm->marks, guint, vm->marks->len - 1) : 0;

  if (vm->stack->len <= floor)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle pops an empty stack");
      return NULL;
    }
  return g_ptr_array_steal_index (vm->stack, vm->stack->len - 1);
}

static CsPickleObj *
top (CsPickle *vm)
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
pop_mark (CsPickle *vm)
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
memo_put (CsPickle *vm,
          gint64    key)
{
  CsPickleObj *o = top (vm);
  if (o != NULL && charge (vm, MEMO_COST))
    g_hash_table_insert (vm->memo, g_memdup2 (&key, sizeof key), o);
}

static void
memo_get (CsPickle *vm,
          gint64    key)
{
  CsPickleObj *o = g_hash_table_lookup (vm->memo, &key);

  if (o == NULL)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "the pickle reads memo %" G_GINT64_FORMAT " before writing it", key);
      return;
    }
  push (vm, o);
}

static CsPickleObj *
make_global (CsPickle   *vm,
             const char *module,
             const char *name)
{
  g_autofree char *full = g_strconcat (module, ".", name, NULL);
  CsPickleObj *o;

  for (guint i = 0; i < G_N_ELEMENTS (allowed_globals); i++)
    if (g_str_equal (full, allowed_globals[i]))
      {
        o = obj_new (vm, CS_PICKLE_GLOBAL);
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
read_line (CsPickle *vm)
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
push_str (CsPickle *vm,
          gsize     n)
{
  CsPickleObj *o;

  if (!need (vm, n))
    return;
  if (!g_utf8_validate ((const char *) vm->p, (gssize) n, NULL))
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "a string is not valid UTF-8");
      return;
    }
  if (!charge (vm, n + 1) || (o = obj_new (vm, CS_PICKLE_STR)) == NULL)
    return;
  o->s = g_strndup ((const char *) vm->p, n);
  vm->p += n;
  push (vm, o);
}

static gboolean
obj_int (const CsPickleObj *o,
         gint64            *out)
{
  if (o == NULL || (o->kind != CS_PICKLE_INT && o->kind != CS_PICKLE_BOOL))
    return FALSE;
  *out = o->i;
  return TRUE;
}

static GArray *
int_tuple (const CsPickleObj *o)
{
  GArray *a;

  if (o == NULL || o->kind != CS_PICKLE_TUPLE)
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
static CsPickleObj *
reduce (CsPickle    *vm,
        CsPickleObj *callable,
        CsPickleObj *args)
{
  if (callable->kind != CS_PICKLE_GLOBAL || args->kind != CS_PICKLE_TUPLE)
    {
      vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "REDUCE on something that is not a known callable");
      return NULL;
    }
  if (g_str_equal (callable->s, "collections.OrderedDict"))
    return obj_new (vm, CS_PICKLE_DICT);
  if (g_str_equal (callable->s, "torch._utils._rebuild_tensor_v2"))
    {
      CsPickleObj *t, *storage;
      gint64 offset;

      if (args->items->len < 4)
        {
          vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "_rebuild_tensor_v2 with %u arguments", args->items->len);
          return NULL;
        }
      storage = g_ptr_array_index (args->items, 0);
      if (storage->kind != CS_PICKLE_STORAGE || !obj_int (g_ptr_array_index (args->items, 1), &offset) || offset < 0)
        {
          vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "_rebuild_tensor_v2 without a storage and offset");
          return NULL;
        }
      if ((t = obj_new (vm, CS_PICKLE_TENSOR)) == NULL)
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
      CsPickleObj *t = args->items->len ? g_ptr_array_index (args->items, 0) : NULL;
      if (t == NULL || t->kind != CS_PICKLE_TENSOR)
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
persistent_load (CsPickle *vm)
{
  CsPickleObj *pid = pop (vm);
  CsPickleObj *kind, *type, *key, *o;
  gint64 numel;

  if (pid == NULL)
    return;
  if (pid->kind != CS_PICKLE_TUPLE || pid->items->len < 5 ||
      (kind = g_ptr_array_index (pid->items, 0))->kind != CS_PICKLE_STR || !g_str_equal (kind->s, "storage") ||
      (type = g_ptr_array_index (pid->items, 1))->kind != CS_PICKLE_GLOBAL ||
      (key = g_ptr_array_index (pid->items, 2))->kind != CS_PICKLE_STR ||
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
  if ((o = obj_new (vm, CS_PICKLE_STORAGE)) == NULL)
    return;
  o->s = g_strdup (key->s);
  o->s2 = g_strndup (type->s + strlen ("torch."), strlen (type->s) - strlen ("torch.") - strlen ("Storage"));
  o->i = numel;
  push (vm, o);
}

static CsPickleObj *
vm_run (CsPickle *vm)
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
            CsPickleObj *g;
            if (name == NULL)
              break;
            if ((g = make_global (vm, module, name)) != NULL)
              push (vm, g);
          }
          break;
        case 0x93: /* STACK_GLOBAL */
          {
            CsPickleObj *name = pop (vm);
            CsPickleObj *module = name ? pop (vm) : NULL;
            CsPickleObj *g;
            if (module == NULL)
              break;
            if (module->kind != CS_PICKLE_STR || name->kind != CS_PICKLE_STR)
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
              memo_put (vm, cs_read_le32 (vm->p));
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
              memo_get (vm, cs_read_le32 (vm->p));
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
          push (vm, shared (vm, &vm->empty_tuple, CS_PICKLE_TUPLE, 0));
          break;
        case 't': /* TUPLE */
          {
            g_autoptr(GPtrArray) items = pop_mark (vm);
            if (items != NULL)
              push (vm, container_of (vm, CS_PICKLE_TUPLE, items));
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
                CsPickleObj *part = pop (vm);
                if (part != NULL)
                  g_ptr_array_insert (parts, 0, part);
              }
            if (!vm->failed)
              push (vm, container_of (vm, CS_PICKLE_TUPLE, parts));
          }
          break;
        case 'X': /* BINUNICODE */
          if (need (vm, 4))
            {
              guint32 n = cs_read_le32 (vm->p);
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
              guint64 n = cs_read_le64 (vm->p);
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
              CsPickleObj *o = obj_new (vm, CS_PICKLE_INT);
              if (o == NULL)
                break;
              o->i = (gint32) cs_read_le32 (vm->p);
              vm->p += 4;
              push (vm, o);
            }
          break;
        case 'K': /* BININT1 */
          if (need (vm, 1))
            {
              guint8 v = *vm->p++;
              push (vm, shared (vm, &vm->small_ints[v], CS_PICKLE_INT, v));
            }
          break;
        case 'M': /* BININT2 */
          if (need (vm, 2))
            {
              CsPickleObj *o = obj_new (vm, CS_PICKLE_INT);
              if (o == NULL)
                break;
              o->i = cs_read_le16 (vm->p);
              vm->p += 2;
              push (vm, o);
            }
          break;
        case 0x8a: /* LONG1: little-endian two's complement */
          if (need (vm, 1))
            {
              guint8 n = *vm->p++;
              CsPickleObj *o;
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
              if ((o = obj_new (vm, CS_PICKLE_INT)) == NULL)
                break;
              o->i = v;
              push (vm, o);
            }
          break;
        case 'G': /* BINFLOAT: big-endian double */
          if (need (vm, 8))
            {
              guint64 bits = 0;
              CsPickleObj *o = obj_new (vm, CS_PICKLE_FLOAT);
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
          push (vm, shared (vm, &vm->bools[op == 0x88], CS_PICKLE_BOOL, op == 0x88));
          break;
        case 'N': /* NONE */
          push (vm, shared (vm, &vm->none, CS_PICKLE_NONE, 0));
          break;
        case '}': /* EMPTY_DICT */
          push (vm, obj_new (vm, CS_PICKLE_DICT));
          break;
        case ']': /* EMPTY_LIST */
          push (vm, obj_new (vm, CS_PICKLE_LIST));
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
            push (vm, container_of (vm, op == 'd' ? CS_PICKLE_DICT : CS_PICKLE_LIST, items));
          }
          break;
        case 's': /* SETITEM */
          {
            CsPickleObj *v = pop (vm), *k = v ? pop (vm) : NULL, *d = k ? top (vm) : NULL;
            if (d == NULL || d->kind != CS_PICKLE_DICT)
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
            CsPickleObj *d = items ? top (vm) : NULL;
            if (d == NULL || (op == 'u' && (d->kind != CS_PICKLE_DICT || items->len % 2 != 0)) ||
                (op == 'e' && d->kind != CS_PICKLE_LIST))
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
            CsPickleObj *v = pop (vm), *l = v ? top (vm) : NULL;
            if (l == NULL || l->kind != CS_PICKLE_LIST)
              {
                vm_fail (vm, CS_CHECKPOINT_ERROR_FORMAT, "APPEND on something that is not a list");
                break;
              }
            add_item (vm, l, v);
          }
          break;
        case 'R': /* REDUCE */
          {
            CsPickleObj *args = pop (vm);
            CsPickleObj *callable = args ? pop (vm) : NULL;
            CsPickleObj *r;
            if (callable == NULL)
              break;
            if ((r = reduce (vm, callable, args)) != NULL)
              push (vm, r);
          }
          break;
        case 'b': /* BUILD: state for the object below; a state_dict's _metadata is not needed */
          {
            CsPickleObj *state = pop (vm);
            CsPickleObj *o = state ? top (vm) : NULL;
            if (o == NULL)
              break;
            if (o->kind != CS_PICKLE_DICT && o->kind != CS_PICKLE_TENSOR)
              vm_fail (vm, CS_CHECKPOINT_ERROR_FORBIDDEN, "BUILD on an object Convscope does not construct");
          }
          break;
        case 'Q': /* BINPERSID */
          persistent_load (vm);
          break;
        case 0x81: /* NEWOBJ */
          {
            CsPickleObj *args = pop (vm);
            CsPickleObj *cls = args ? pop (vm) : NULL;
            CsPickleObj *r;
            if (cls == NULL)
              break;
            if (cls->kind == CS_PICKLE_GLOBAL && g_str_equal (cls->s, "collections.OrderedDict"))
              push (vm, obj_new (vm, CS_PICKLE_DICT));
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

CsPickle *
cs_pickle_new (const char *path,
               gsize       budget)
{
  CsPickle *vm = g_new0 (CsPickle, 1);

  vm->path = path;
  vm->stack = g_ptr_array_new ();
  vm->marks = g_array_new (FALSE, FALSE, sizeof (guint));
  vm->memo = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  vm->arena = g_ptr_array_new_with_free_func ((GDestroyNotify) obj_free);
  vm->budget = budget;
  return vm;
}

CsPickleObj *
cs_pickle_run (CsPickle     *vm,
               const guint8 *data,
               gsize         len,
               GError      **error)
{
  CsPickleObj *result;

  g_return_val_if_fail (vm != NULL && vm->error == NULL, NULL);

  vm->p = vm->start = data;
  vm->end = data + len;
  vm->error = error;
  result = vm_run (vm);
  if (result == NULL && !vm->failed)
    g_set_error (error, CS_CHECKPOINT_ERROR, CS_CHECKPOINT_ERROR_FORMAT, "%s: data.pkl holds nothing", vm->path);
  vm->error = NULL;
  return result;
}

void
cs_pickle_free (CsPickle *vm)
{
  if (vm == NULL)
    return;
  g_clear_pointer (&vm->stack, g_ptr_array_unref);
  g_clear_pointer (&vm->marks, g_array_unref);
  g_clear_pointer (&vm->memo, g_hash_table_unref);
  g_clear_pointer (&vm->arena, g_ptr_array_unref);
  g_free (vm);
}
