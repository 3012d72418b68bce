"""Real images in memory: MNIST and Fashion-MNIST sources, paired style data, toy mixtures."""
from gancore.data.sources import (
                                  DATASETS,
                                  DataUnavailableError,
                                  ImageSplit,
                                  holdout_split,
                                  load_dataset,
                                  load_fashion_mnist,
                                  load_mnist,
                                  read_idx,
                                  read_idx_folder,
                                  to_tensor,
                                  write_idx,
)

__all__ = ["DATASETS", "DataUnavailableError", "ImageSplit", "holdout_split", "load_dataset", "load_fashion_mnist",
           "load_mnist", "read_idx", "read_idx_folder", "to_tensor", "write_idx"]
