// Shared helpers for the pybind11 module robolm._native. Each csrc/python/bind_*.cpp
// file binds one part of the C core; bind_main.cpp puts them together.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

// A C-contiguous float32 array, converted (copied) only when the caller's is not.
using farray = py::array_t<float, py::array::c_style | py::array::forcecast>;

void bind_kernels(py::module_& m);
void bind_tokenizer(py::module_& m);
void bind_runtime(py::module_& m);
void bind_quant(py::module_& m);
