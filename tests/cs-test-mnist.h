/* MNIST for the test programs that need it. Without it a suite stops at once
 * with one line saying how to fetch it (TAP's "Bail out!"), not a trace. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "data/cs-dataset.h"

static inline CsDataset *
cs_test_open_mnist (void)
{
  g_autoptr(GError) error = NULL;
  CsDataset *ds = cs_dataset_open (NULL, "mnist", &error);

  if (ds == NULL)
    {
      /* The reader's message names where it looked and how to fetch the data. */
      printf ("Bail out! these tests need MNIST: %s\n", error->message);
      fflush (stdout);
      exit (1);
    }
  return ds;
}

/* For a program whose tests open MNIST themselves: checked once, up front. */
static inline void
cs_test_require_mnist (void)
{
  cs_dataset_free (cs_test_open_mnist ());
}
