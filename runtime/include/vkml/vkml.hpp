// The vkml runtime: include this to embed vkml.
#pragma once

#include "vkml/buffer.hpp"
#include "vkml/device.hpp"
#include "vkml/dtype.hpp"
#include "vkml/error.hpp"
#include "vkml/kernel.hpp"
#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"
#include "vkml/graph.hpp"
