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
from gancore.data.splits import PARTS, count_shared, partition

__all__ = ["DATASETS", "PARTS", "DataUnavailableError", "ImageSplit", "count_shared", "holdout_split", "load_dataset",
           "load_fashion_mnist", "load_mnist", "partition", "read_idx", "read_idx_folder", "to_tensor", "write_idx"]
