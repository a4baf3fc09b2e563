/* The New Run window: core's spec parser runs on every keystroke; its errors are underlined at their line. */

#define G_LOG_DOMAIN "cs-new-run-dialog"

#include "config.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

#include "cs-new-run-dialog.h"
#include "cs-state.h"
#include "cs-style.h"
#include "nn/cs-presets.h"

static const char * const preset_names[] = { "mlp", "cnn", "lenet5", "net-mnist", "shapes", NULL };

struct _CsNewRunDialog
{
  GtkWindow    parent_instance;

  GtkButton   *cancel_button;
  GtkButton   *start_button;
  GtkDropDown *preset;
  GtkTextView *spec_view;
  GtkWidget   *numbers;      /* the left gutter: line numbers */
  GtkWidget   *shapes;       /* the right gutter: each line's output shape */
  GPtrArray   *shape_cells;  /* char *, one per line (NULL: none) */
  GtkLabel    *status;
  GtkEntry    *name_entry;
  GtkDropDown *dataset;
  GtkDropDown *optimizer;
  GtkSpinButton *lr;
  GtkSpinButton *momentum;
  GtkSpinButton *batch_size;
  GtkSpinButton *epochs;
  GtkSpinButton *seed;
  GtkSpinButton *threads;

  GtkTextTag  *error_tag;
  CsSpec      *spec;
  int          error_line;
  char        *data_dir;
  gboolean     setting_preset;
};

G_DEFINE_FINAL_TYPE (CsNewRunDialog, cs_new_run_dialog, GTK_TYPE_WINDOW)

enum { SIGNAL_START, N_SIGNALS };
static guint signals[N_SIGNALS];

static char *
pretty_shape (CsShape s)
{
  if (s.flat)
    return g_strdup_printf ("%d", s.c);
  return g_strdup_printf ("%d×%d×%d", s.c, s.h, s.w);
}

/* Shapes beside each line: of the whole spec when it parses, else of the lines before the error. */
static void
update_shapes (CsNewRunDialog *self,
               const char     *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint n_lines = g_strv_length (lines);
  g_autofree char **cells = g_new0 (char *, n_lines + 1);
  g_autoptr(CsSpec) probe = NULL;
  const CsSpec *spec = self->spec;   /* its lines are the text's, also for a PyTorch class */

  if (spec == NULL && self->error_line > 1)
    {
      g_autoptr(GString) prefix = g_string_new (NULL);
      for (int i = 0; i < self->error_line - 1 && lines[i]; i++)
        g_string_append_printf (prefix, "%s\n", lines[i]);
      /* Best effort: the valid prefix may still lack a flat output, so try with a closing Flatten. */
      probe = cs_spec_parse (prefix->str, NULL);
      if (probe == NULL)
        {
          g_string_append (prefix, "__shape_probe = nn.Flatten()\n");
          probe = cs_spec_parse (prefix->str, NULL);
        }
      spec = probe;
    }
  if (spec != NULL)
    {
      for (guint i = 0; i < n_lines; i++)
        {
          g_autofree char *line = g_strstrip (g_strdup (lines[i]));
          if (g_str_has_prefix (line, "input"))
            {
              g_autofree char *s = pretty_shape (spec->input);
              cells[i] = g_strdup_printf ("in  %s", s);
              break;
            }
        }
      for (guint l = 0; l < cs_spec_n_layers (spec); l++)
        {
          const CsLayerSpec *layer = cs_spec_layer (spec, l);
          if (layer->line >= 1 && layer->line <= n_lines && !g_str_equal (layer->name, "__shape_probe"))
            {
              g_autofree char *s = pretty_shape (layer->out);
              g_free (cells[layer->line - 1]);
              cells[layer->line - 1] = g_strdup_printf ("→ %s", s);
            }
        }
    }
  g_ptr_array_set_size (self->shape_cells, 0);
  for (guint i = 0; i < n_lines; i++)
    g_ptr_array_add (self->shape_cells, cells[i]);   /* taken */
  gtk_widget_queue_draw (self->shapes);
  gtk_widget_queue_draw (self->numbers);
}

/* ---- the gutters ----------------------------------------------------------- */

/* Draws @text for each visible line of the spec, right- or left-aligned in a
 * gutter of @win; @text_for returns the line's text (or NULL) and whether it
 * is the line the error names. */
typedef const char *(*LineText) (CsNewRunDialog *self,
                                 int             line,
                                 char           *buf,
                                 gsize           len,
                                 gboolean       *is_error);

static void
draw_gutter (CsNewRunDialog   *self,
             GtkWidget        *gutter,
             cairo_t          *cr,
             int               width,
             GtkTextWindowType win,
             LineText          text_for,
             gboolean          right_align)
{
  GtkTextView *view = self->spec_view;
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (gutter, NULL);
  PangoFontDescription *mono = pango_font_description_from_string ("Monospace");
  GdkRGBA fg, err = { 0.8, 0, 0, 1 };
  GdkRectangle visible;
  GtkTextIter iter;
  gboolean dark = cs_widget_is_dark (gutter);

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (gutter), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  if (dark)
    err = (GdkRGBA) { 1.0, 0.48, 0.39, 1 };   /* 4.8:1 on the dark grey, as style-dark.css */
  pango_layout_set_font_description (layout, mono);
  pango_font_description_free (mono);
  gtk_text_view_get_visible_rect (view, &visible);
  gtk_text_view_get_line_at_y (view, &iter, visible.y, NULL);
  while (TRUE)
    {
      int y, height, wx, wy, tw, th, line = gtk_text_iter_get_line (&iter);
      char buf[64];
      gboolean is_error = FALSE;
      const char *text;

      gtk_text_view_get_line_yrange (view, &iter, &y, &height);
      if (y > visible.y + visible.height)
        break;
      gtk_text_view_buffer_to_window_coords (view, win, 0, y, &wx, &wy);
      text = text_for (self, line, buf, sizeof buf, &is_error);
      if (text != NULL)
        {
          pango_layout_set_text (layout, text, -1);
          pango_layout_get_pixel_size (layout, &tw, &th);
          if (is_error)
            gdk_cairo_set_source_rgba (cr, &err);
          else
            cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.55);
          cairo_move_to (cr, right_align ? width - tw - 6 : 8, wy + (height - th) / 2.0);
          pango_cairo_show_layout (cr, layout);
        }
      if (!gtk_text_iter_forward_line (&iter))
        break;
    }
}

static const char *
number_text (CsNewRunDialog *self,
             int             line,
             char           *buf,
             gsize           len,
             gboolean       *is_error)
{
  *is_error = self->error_line == line + 1;
  g_snprintf (buf, len, "%d", line + 1);
  return buf;
}

static const char *
shape_text (CsNewRunDialog *self,
            int             line,
            char           *buf,
            gsize           len,
            gboolean       *is_error)
{
  return (guint) line < self->shape_cells->len ? g_ptr_array_index (self->shape_cells, line) : NULL;
}

static void
numbers_draw (GtkDrawingArea *area,
              cairo_t        *cr,
              int             width,
              int             height,
              gpointer        user_data)
{
  draw_gutter (user_data, GTK_WIDGET (area), cr, width, GTK_TEXT_WINDOW_LEFT, number_text, TRUE);
}

static void
shapes_draw (GtkDrawingArea *area,
             cairo_t        *cr,
             int             width,
             int             height,
             gpointer        user_data)
{
  draw_gutter (user_data, GTK_WIDGET (area), cr, width, GTK_TEXT_WINDOW_RIGHT, shape_text, FALSE);
}

static void
scrolled_cb (GtkAdjustment  *adjustment,
             CsNewRunDialog *self)
{
  gtk_widget_queue_draw (self->numbers);
  gtk_widget_queue_draw (self->shapes);
}

static void
vadjustment_cb (GtkScrollable  *view,
                GParamSpec     *pspec,
                CsNewRunDialog *self)
{
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (view);

  if (adj != NULL)
    g_signal_connect_object (adj, "value-changed", G_CALLBACK (scrolled_cb), self, 0);
}

static void
validate (CsNewRunDialog *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->spec_view);
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  gtk_text_buffer_remove_tag (buffer, self->error_tag, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);

  g_clear_pointer (&self->spec, cs_spec_free);
  self->error_line = 0;
  self->spec = cs_spec_parse (text, &error);
  if (self->spec == NULL)
    {
      if (g_str_has_prefix (error->message, "line "))
        self->error_line = atoi (error->message + 5);
      if (self->error_line > 0)
        {
          GtkTextIter ls, le;
          gtk_text_buffer_get_iter_at_line (buffer, &ls, self->error_line - 1);
          le = ls;
          if (!gtk_text_iter_ends_line (&le))
            gtk_text_iter_forward_to_line_end (&le);
          gtk_text_buffer_apply_tag (buffer, self->error_tag, &ls, &le);
        }
      gtk_label_set_text (self->status, error->message);
      gtk_widget_add_css_class (GTK_WIDGET (self->status), "error");
      gtk_widget_remove_css_class (GTK_WIDGET (self->status), "success");
    }
  else
    {
      g_autoptr(CsModel) model = cs_model_new (self->spec);
      g_autofree char *in = pretty_shape (self->spec->input);
      g_autofree char *out = pretty_shape (cs_spec_output_shape (self->spec));
      g_autofree char *msg = g_strdup_printf ("✓ %s → %s · %" G_GSIZE_FORMAT " parameters · %s loss", in, out,
                                              cs_model_n_params (model),
                                              cs_model_get_loss (model) == CS_LOSS_NLL ? "NLL" : "cross-entropy");
      gtk_label_set_text (self->status, msg);
      gtk_widget_remove_css_class (GTK_WIDGET (self->status), "error");
      gtk_widget_add_css_class (GTK_WIDGET (self->status), "success");
      /* The name a run gets without one: a PyTorch class's own, else the custom model's. */
      if (!self->setting_preset)
        {
          g_autofree char *cls = cs_spec_class_name (self->spec);
          gtk_entry_set_placeholder_text (self->name_entry, cls ? cls : "Custom model");
        }
    }
  update_shapes (self, text);
  gtk_widget_set_sensitive (GTK_WIDGET (self->start_button), self->spec != NULL);
}

static void
buffer_changed_cb (GtkTextBuffer  *buffer,
                   CsNewRunDialog *self)
{
  validate (self);
  if (!self->setting_preset)
    {
      guint custom = G_N_ELEMENTS (preset_names) - 1;
      if (gtk_drop_down_get_selected (self->preset) != custom)
        {
          self->setting_preset = TRUE;
          gtk_drop_down_set_selected (self->preset, custom);
          self->setting_preset = FALSE;
        }
    }
}

void
cs_new_run_dialog_set_preset (CsNewRunDialog *self,
                              const char     *preset)
{
  g_autofree char *text = cs_preset_text (preset, NULL);
  const CsPreset *p = cs_preset_lookup (preset);

  if (text == NULL || p == NULL)
    return;
  self->setting_preset = TRUE;
  for (guint i = 0; preset_names[i]; i++)
    if (g_str_equal (preset_names[i], p->name))
      gtk_drop_down_set_selected (self->preset, i);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->spec_view), text, -1);
  /* The notebook's settings for this model. */
  gtk_drop_down_set_selected (self->optimizer, p->optimizer == CS_OPTIM_ADAM ? 1 : 0);
  gtk_spin_button_set_value (self->lr, p->lr);
  gtk_spin_button_set_value (self->momentum, 0);
  gtk_spin_button_set_value (self->batch_size, 100);
  gtk_spin_button_set_value (self->epochs, 5);
  gtk_editable_set_text (GTK_EDITABLE (self->name_entry), "");
  gtk_entry_set_placeholder_text (self->name_entry, p->title);
  self->setting_preset = FALSE;
}

void
cs_new_run_dialog_remember (CsNewRunDialog *self)
{
  GKeyFile *state = cs_state_get ();
  g_auto(CsRunSettings) s = { 0 };

  g_return_if_fail (CS_IS_NEW_RUN_DIALOG (self));

  cs_new_run_dialog_get_settings (self, &s);
  g_key_file_set_string (state, "new-run", "model", s.model);
  if (g_str_equal (s.model, "custom") && s.spec != NULL)
    g_key_file_set_string (state, "new-run", "spec", s.spec->text);
  g_key_file_set_string (state, "new-run", "optimizer", s.hp.optim.kind == CS_OPTIM_ADAM ? "adam" : "sgd");
  g_key_file_set_double (state, "new-run", "lr", s.hp.optim.lr);
  g_key_file_set_double (state, "new-run", "momentum", s.hp.optim.momentum);
  g_key_file_set_integer (state, "new-run", "batch-size", s.hp.batch_size);
  g_key_file_set_integer (state, "new-run", "epochs", s.hp.epochs);
  g_key_file_set_integer (state, "new-run", "seed", (int) MIN (s.hp.seed, G_MAXINT));
  g_key_file_set_integer (state, "new-run", "threads", s.hp.threads);
  g_key_file_set_integer (state, "new-run", "dataset", (int) gtk_drop_down_get_selected (self->dataset) == 1 ? 1 : 0);
  cs_state_save ();
}

/* The settings of the last run started from this window, if any. */
static void
restore_settings (CsNewRunDialog *self)
{
  GKeyFile *state = cs_state_get ();
  g_autofree char *model = g_key_file_get_string (state, "new-run", "model", NULL);
  g_autofree char *optimizer = g_key_file_get_string (state, "new-run", "optimizer", NULL);
  g_autoptr(GError) error = NULL;
  double v;
  int n;

  if (model == NULL)
    return;
  if (cs_preset_lookup (model) != NULL)
    cs_new_run_dialog_set_preset (self, model);
  else if (g_str_equal (model, "custom"))
    {
      g_autofree char *spec = g_key_file_get_string (state, "new-run", "spec", NULL);
      if (spec != NULL && g_utf8_validate (spec, -1, NULL))
        {
          gtk_drop_down_set_selected (self->preset, G_N_ELEMENTS (preset_names) - 1);
          cs_new_run_dialog_set_spec_text (self, spec);
        }
    }
  if (optimizer != NULL)
    gtk_drop_down_set_selected (self->optimizer, g_str_equal (optimizer, "adam") ? 1 : 0);
  /* Out-of-range values are clamped by the spin buttons themselves. */
#define RESTORE_DOUBLE(key, spin) \
  v = g_key_file_get_double (state, "new-run", key, &error); \
  if (error == NULL && isfinite (v)) gtk_spin_button_set_value (spin, v); \
  g_clear_error (&error);
#define RESTORE_INT(key, spin) \
  n = g_key_file_get_integer (state, "new-run", key, &error); \
  if (error == NULL) gtk_spin_button_set_value (spin, n); \
  g_clear_error (&error);
  RESTORE_DOUBLE ("lr", self->lr);
  RESTORE_DOUBLE ("momentum", self->momentum);
  RESTORE_INT ("batch-size", self->batch_size);
  RESTORE_INT ("epochs", self->epochs);
  RESTORE_INT ("seed", self->seed);
  RESTORE_INT ("threads", self->threads);
#undef RESTORE_DOUBLE
#undef RESTORE_INT
  n = g_key_file_get_integer (state, "new-run", "dataset", NULL);
  if (n == 1)
    gtk_drop_down_set_selected (self->dataset, 1);
}

void
cs_new_run_dialog_set_spec_text (CsNewRunDialog *self,
                                 const char     *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->spec_view), text, -1);
}

static void
preset_changed_cb (GtkDropDown    *dropdown,
                   GParamSpec     *pspec,
                   CsNewRunDialog *self)
{
  guint i = gtk_drop_down_get_selected (dropdown);

  if (self->setting_preset || i >= G_N_ELEMENTS (preset_names) - 1)
    return;
  cs_new_run_dialog_set_preset (self, preset_names[i]);
}

static void
optimizer_changed_cb (GtkDropDown    *dropdown,
                      GParamSpec     *pspec,
                      CsNewRunDialog *self)
{
  gtk_widget_set_sensitive (GTK_WIDGET (self->momentum), gtk_drop_down_get_selected (dropdown) == 0);
}

static void
folder_response_cb (GtkNativeDialog *dialog,
                    int              response,
                    CsNewRunDialog  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_free (self->data_dir);
      self->data_dir = g_file_get_path (file);
    }
  else if (self->data_dir == NULL)
    gtk_drop_down_set_selected (self->dataset, 0);
  g_object_unref (dialog);
}

static void
dataset_changed_cb (GtkDropDown    *dropdown,
                    GParamSpec     *pspec,
                    CsNewRunDialog *self)
{
  GtkFileChooserNative *chooser;

  if (gtk_drop_down_get_selected (dropdown) != 2)
    return;
  chooser = gtk_file_chooser_native_new ("Choose a Directory of IDX Files", GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, "_Choose", "_Cancel");
  g_signal_connect (chooser, "response", G_CALLBACK (folder_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
start_clicked_cb (GtkButton      *button,
                  CsNewRunDialog *self)
{
  if (self->spec != NULL)
    g_signal_emit (self, signals[SIGNAL_START], 0);
}

static void
cancel_clicked_cb (GtkButton      *button,
                   CsNewRunDialog *self)
{
  gtk_window_destroy (GTK_WINDOW (self));
}

CsSpec *
cs_new_run_dialog_get_spec (CsNewRunDialog *self)
{
  return self->spec ? cs_spec_parse (self->spec->text, NULL) : NULL;
}

const char *
cs_new_run_dialog_get_status (CsNewRunDialog *self)
{
  return gtk_label_get_text (self->status);
}

char *
cs_new_run_dialog_get_shapes (CsNewRunDialog *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (CS_IS_NEW_RUN_DIALOG (self), NULL);

  for (guint i = 0; i < self->shape_cells->len; i++)
    {
      const char *cell = g_ptr_array_index (self->shape_cells, i);
      g_string_append_printf (out, "%s%s", i ? "\n" : "", cell ? cell : "");
    }
  return g_string_free (out, FALSE);
}

int
cs_new_run_dialog_get_error_line (CsNewRunDialog *self)
{
  return self->error_line;
}

void
cs_new_run_dialog_get_settings (CsNewRunDialog *self,
                                CsRunSettings  *settings)
{
  CsHyperParams *hp = &settings->hp;
  guint p = gtk_drop_down_get_selected (self->preset);
  const char *entered = gtk_editable_get_text (GTK_EDITABLE (self->name_entry));
  const char *preset = p < G_N_ELEMENTS (preset_names) - 1 ? preset_names[p] : NULL;
  guint ds = gtk_drop_down_get_selected (self->dataset);

  cs_hyper_params_for_preset (hp, preset);
  cs_optim_config_defaults (&hp->optim, gtk_drop_down_get_selected (self->optimizer) == 1 ? CS_OPTIM_ADAM : CS_OPTIM_SGD);
  hp->optim.lr = gtk_spin_button_get_value (self->lr);
  hp->optim.momentum = hp->optim.kind == CS_OPTIM_SGD ? gtk_spin_button_get_value (self->momentum) : 0;
  hp->batch_size = gtk_spin_button_get_value_as_int (self->batch_size);
  hp->epochs = gtk_spin_button_get_value_as_int (self->epochs);
  hp->seed = (guint64) gtk_spin_button_get_value_as_int (self->seed);
  hp->threads = gtk_spin_button_get_value_as_int (self->threads);
  settings->spec = cs_new_run_dialog_get_spec (self);
  settings->model = g_strdup (preset ? preset : "custom");
  /* Without a name the runs directory gives one that tells it from the others. */
  settings->name = entered[0] != '\0' ? g_strdup (entered) : NULL;
  settings->dataset = g_strdup (ds == 1 ? "fashion-mnist" : "mnist");
  settings->data_dir = ds == 2 ? g_strdup (self->data_dir) : NULL;
}

/* The learning rate as the CLI takes it: any positive number, shown as %g
 * (1e-05, 0.001, 1000), not rounded to the spin button's digits. */
static gboolean
lr_output_cb (GtkSpinButton *spin,
              gpointer       user_data)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (buf, sizeof buf, "%g", gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)));
  gtk_editable_set_text (GTK_EDITABLE (spin), buf);
  return TRUE;
}

static int
lr_input_cb (GtkSpinButton *spin,
             double        *value,
             gpointer       user_data)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (spin));
  char *end = NULL;
  double v = g_ascii_strtod (text, &end);

  if (end == text || !isfinite (v) || v <= 0)
    return GTK_INPUT_ERROR;
  *value = v;
  return TRUE;
}

static void
cs_new_run_dialog_finalize (GObject *object)
{
  CsNewRunDialog *self = CS_NEW_RUN_DIALOG (object);

  cs_spec_free (self->spec);
  g_free (self->data_dir);
  g_clear_pointer (&self->shape_cells, g_ptr_array_unref);
  G_OBJECT_CLASS (cs_new_run_dialog_parent_class)->finalize (object);
}

static void
cs_new_run_dialog_class_init (CsNewRunDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = cs_new_run_dialog_finalize;
  signals[SIGNAL_START] = g_signal_new ("start", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 0);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/convscope/Convscope/ui/cs-new-run-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, start_button);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, preset);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, spec_view);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, status);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, name_entry);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, dataset);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, optimizer);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, lr);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, momentum);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, batch_size);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, epochs);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, seed);
  gtk_widget_class_bind_template_child (widget_class, CsNewRunDialog, threads);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
cs_new_run_dialog_init (CsNewRunDialog *self)
{
  GtkTextBuffer *buffer;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->shape_cells = g_ptr_array_new_with_free_func (g_free);
  self->numbers = gtk_drawing_area_new ();
  gtk_widget_set_size_request (self->numbers, 40, -1);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->numbers), numbers_draw, self, NULL);
  gtk_text_view_set_gutter (self->spec_view, GTK_TEXT_WINDOW_LEFT, self->numbers);
  self->shapes = gtk_drawing_area_new ();
  gtk_widget_set_size_request (self->shapes, 180, -1);
  gtk_widget_add_css_class (self->shapes, "cs-shapes");
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->shapes), shapes_draw, self, NULL);
  gtk_text_view_set_gutter (self->spec_view, GTK_TEXT_WINDOW_RIGHT, self->shapes);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->shapes), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  "Output shape of each line", -1);
  g_signal_connect (self->spec_view, "notify::vadjustment", G_CALLBACK (vadjustment_cb), self);
  vadjustment_cb (GTK_SCROLLABLE (self->spec_view), NULL, self);
  buffer = gtk_text_view_get_buffer (self->spec_view);
  self->error_tag = gtk_text_buffer_create_tag (buffer, "error", "underline", PANGO_UNDERLINE_ERROR,
                                                "background", "rgba(224,27,36,0.12)", NULL);
  gtk_spin_button_set_value (self->threads, MAX (1, g_get_num_processors ()));
  g_signal_connect (self->lr, "output", G_CALLBACK (lr_output_cb), NULL);
  g_signal_connect (self->lr, "input", G_CALLBACK (lr_input_cb), NULL);
  g_signal_connect (buffer, "changed", G_CALLBACK (buffer_changed_cb), self);
  g_signal_connect (self->preset, "notify::selected", G_CALLBACK (preset_changed_cb), self);
  g_signal_connect (self->optimizer, "notify::selected", G_CALLBACK (optimizer_changed_cb), self);
  g_signal_connect (self->dataset, "notify::selected", G_CALLBACK (dataset_changed_cb), self);
  g_signal_connect (self->start_button, "clicked", G_CALLBACK (start_clicked_cb), self);
  g_signal_connect (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked_cb), self);
  cs_new_run_dialog_set_preset (self, "lenet5");
  restore_settings (self);
}

CsNewRunDialog *
cs_new_run_dialog_new (GtkWindow *parent)
{
  return g_object_new (CS_TYPE_NEW_RUN_DIALOG, "transient-for", parent, NULL);
}
