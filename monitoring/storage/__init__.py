"""Where an analysis' files live (``paths``) and what an analysis reads (``inputs``): used by services and selectors."""
