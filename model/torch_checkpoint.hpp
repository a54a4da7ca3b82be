/// @file
/// libtorch view of `torch.save` checkpoints: formats/torch_save.hpp reads the archive and its
/// pickle without libtorch; this layer turns its tensors into at::Tensor (zero copy where the
/// mapping allows).
#pragma once

#include <ATen/core/Tensor.h>

#include "formats/torch_save.hpp"

namespace evoscope::model {

using CheckpointTensor = TorchSaveTensor;

/// The c10 scalar type of a storage dtype.
c10::ScalarType scalar_type(TorchDtype dtype);

class TorchCheckpoint : public TorchSaveFile {
public:
    using TorchSaveFile::TorchSaveFile;

    /// CPU tensor with the pickled shape, stride and offset. Zero copy (a read-only view of
    /// the mapping, valid while this object lives) when the storage lies in one mapping and is
    /// aligned for its dtype; otherwise the storage is copied into a tensor that owns it.
    at::Tensor tensor(const CheckpointTensor& t) const;
};

using evoscope::checkpoint_parts;

}  // namespace evoscope::model
