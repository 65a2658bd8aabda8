// Zero-copy access to the tensors of @tensorflow/tfjs-node's binding, for Distillery's fused native
// kernels on the `tensorflow` backend (src/model/fast-kernels/tensorflow-kernels.ts).
// scripts/build-tfjs-node.mjs copies this file into the package's binding/ and applies
// native/tfjs-node/binding.patch, which adds it to binding.gyp, makes DistilleryTensors a friend
// of TFJSBackend (its handle map is private) and registers these entry points on the binding:
//
//   tensorView(id) → ArrayBuffer: the float32 tensor's own memory (for a CPU tensor
//     TFE_TensorHandleResolve shares the buffer).
//   allocTensor(shape) → [id, ArrayBuffer]: a new, uninitialised float32 tensor (TF_AllocateTensor,
//     aligned for Eigen) in the backend's handle map, as createTensor would insert it, and a
//     writable view of it.
//   releaseView(ArrayBuffer): detaches a view (its length becomes 0).
//
// A view is valid while its tensor id lives (the handle holds the buffer); the kernels take views,
// run, and release them within one kernel call, while the engine holds the tensors. A view does
// not hold a reference of its own: one that the finalizer dropped kept TensorFlow's memory until
// V8 collected the ArrayBuffer, which it does not do for memory it cannot see (50 released 256 MB
// views of deleted tensors held 12.5 GB), and detaching does not free an external backing store
// before then either.
#include <node_api.h>

#include <cstdint>
#include <vector>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"
#include "tfjs_backend.h"
#include "utils.h"

namespace tfnodejs {

namespace {

// An ArrayBuffer over a TF_Tensor's data, valid while the tensor handle that shares it lives;
// `tensor` (a reference of its own) is deleted here.
napi_value ViewOf(napi_env env, TF_Tensor *tensor) {
  napi_value ab;
  const size_t bytes = TF_TensorByteSize(tensor);
  void *data = TF_TensorData(tensor);
  TF_DeleteTensor(tensor);
  if (bytes == 0 || data == nullptr) {
    void *unused;
    ENSURE_NAPI_OK_RETVAL(env, napi_create_arraybuffer(env, 0, &unused, &ab), nullptr);
    return ab;
  }
  napi_status s = napi_create_external_arraybuffer(env, data, bytes, nullptr, nullptr, &ab);
  if (s != napi_ok) {
    NAPI_THROW_ERROR(env, "tensorView: napi_create_external_arraybuffer failed (%d)", static_cast<int>(s));
    return nullptr;
  }
  return ab;
}

TFJSBackend *Backend(napi_env env) {
  TFJSBackend *backend = nullptr;
  ENSURE_NAPI_OK_RETVAL(env, napi_get_instance_data(env, reinterpret_cast<void **>(&backend)), nullptr);
  if (backend == nullptr) NAPI_THROW_ERROR(env, "the tfjs-node binding has no backend");
  return backend;
}

}  // namespace

struct DistilleryTensors {
  static napi_value TensorView(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value args[1];
    ENSURE_NAPI_OK_RETVAL(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), nullptr);
    if (argc != 1) {
      NAPI_THROW_ERROR(env, "tensorView(id): expected 1 argument, got %zu", argc);
      return nullptr;
    }
    int32_t id;
    ENSURE_NAPI_OK_RETVAL(env, napi_get_value_int32(env, args[0], &id), nullptr);
    TFJSBackend *backend = Backend(env);
    if (backend == nullptr) return nullptr;
    auto entry = backend->tfe_handle_map_.find(id);
    if (entry == backend->tfe_handle_map_.end()) {
      NAPI_THROW_ERROR(env, "tensorView: no tensor with id %d", id);
      return nullptr;
    }
    if (TFE_TensorHandleDataType(entry->second) != TF_FLOAT) {
      NAPI_THROW_ERROR(env, "tensorView: tensor %d is not float32", id);
      return nullptr;
    }
    TF_Status *status = TF_NewStatus();
    TF_Tensor *tensor = TFE_TensorHandleResolve(entry->second, status);
    if (TF_GetCode(status) != TF_OK) {
      NAPI_THROW_ERROR(env, "tensorView: %s", TF_Message(status));
      TF_DeleteStatus(status);
      return nullptr;
    }
    TF_DeleteStatus(status);
    return ViewOf(env, tensor);
  }

  static napi_value AllocTensor(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value args[1];
    ENSURE_NAPI_OK_RETVAL(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), nullptr);
    bool is_array = false;
    if (argc != 1 || napi_is_array(env, args[0], &is_array) != napi_ok || !is_array) {
      NAPI_THROW_ERROR(env, "allocTensor(shape): expected one array of dimensions");
      return nullptr;
    }
    uint32_t rank;
    ENSURE_NAPI_OK_RETVAL(env, napi_get_array_length(env, args[0], &rank), nullptr);
    std::vector<int64_t> dims(rank);
    size_t count = 1;
    for (uint32_t i = 0; i < rank; i++) {
      napi_value d;
      int64_t v;
      ENSURE_NAPI_OK_RETVAL(env, napi_get_element(env, args[0], i, &d), nullptr);
      ENSURE_NAPI_OK_RETVAL(env, napi_get_value_int64(env, d, &v), nullptr);
      if (v < 0) {
        NAPI_THROW_ERROR(env, "allocTensor: negative dimension %lld", static_cast<long long>(v));
        return nullptr;
      }
      dims[i] = v;
      count *= static_cast<size_t>(v);
    }
    TFJSBackend *backend = Backend(env);
    if (backend == nullptr) return nullptr;
    if (backend->is_gpu_device) {
      NAPI_THROW_ERROR(env, "allocTensor: host tensors only (the backend runs on a GPU)");
      return nullptr;
    }
    TF_Tensor *tensor = TF_AllocateTensor(TF_FLOAT, dims.data(), static_cast<int>(rank), count * sizeof(float));
    if (tensor == nullptr) {
      NAPI_THROW_ERROR(env, "allocTensor: TF_AllocateTensor failed for %zu values", count);
      return nullptr;
    }
    TF_Status *status = TF_NewStatus();
    // The handle shares the tensor's buffer (ViewOf drops `tensor` itself).
    TFE_TensorHandle *handle = TFE_NewTensorHandle(tensor, status);
    if (TF_GetCode(status) != TF_OK) {
      NAPI_THROW_ERROR(env, "allocTensor: %s", TF_Message(status));
      TF_DeleteStatus(status);
      TF_DeleteTensor(tensor);
      return nullptr;
    }
    TF_DeleteStatus(status);
    napi_value view = ViewOf(env, tensor);
    if (view == nullptr) {
      TFE_DeleteTensorHandle(handle);
      return nullptr;
    }
    napi_value id, out;
    ENSURE_NAPI_OK_RETVAL(env, napi_create_int32(env, backend->InsertHandle(handle), &id), nullptr);
    ENSURE_NAPI_OK_RETVAL(env, napi_create_array_with_length(env, 2, &out), nullptr);
    ENSURE_NAPI_OK_RETVAL(env, napi_set_element(env, out, 0, id), nullptr);
    ENSURE_NAPI_OK_RETVAL(env, napi_set_element(env, out, 1, view), nullptr);
    return out;
  }

  static napi_value ReleaseView(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value args[1];
    ENSURE_NAPI_OK_RETVAL(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), nullptr);
    bool is_ab = false;
    if (argc != 1 || napi_is_arraybuffer(env, args[0], &is_ab) != napi_ok || !is_ab) {
      NAPI_THROW_ERROR(env, "releaseView(view): expected an ArrayBuffer");
      return nullptr;
    }
    bool detached = false;
    ENSURE_NAPI_OK_RETVAL(env, napi_is_detached_arraybuffer(env, args[0], &detached), nullptr);
    if (!detached) ENSURE_NAPI_OK_RETVAL(env, napi_detach_arraybuffer(env, args[0]), nullptr);
    return nullptr;
  }
};

void RegisterDistilleryTensors(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tensorView", nullptr, DistilleryTensors::TensorView, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allocTensor", nullptr, DistilleryTensors::AllocTensor, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"releaseView", nullptr, DistilleryTensors::ReleaseView, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  ENSURE_NAPI_OK(env, napi_define_properties(env, exports, ARRAY_SIZE(props), props));
}

}  // namespace tfnodejs
