"""map and parallel: their result model (`models`) and how a batch is run (`batch`)."""
