// Shared by the model commands: opening a device and a model file, reading token lists.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "vkml/device.hpp"
#include "vkml/models/gguf_weights.hpp"
#include "vkml/models/language_model.hpp"
#include "vkml/models/tokenizer.hpp"

namespace vkml::cli {

struct LoadedModel {
    std::shared_ptr<Device> device;
    std::unique_ptr<models::WeightSource> file;     // GGUF or Hugging Face folder
    std::unique_ptr<models::WeightSource> quantized;  // --quant wrapper, when asked
    const models::WeightSource* weights = nullptr;    // what the model was loaded from
    std::unique_ptr<models::LanguageModel> model;
    std::unique_ptr<models::Tokenizer> tokenizer;
    std::string tokenizer_error;  // why there is no tokenizer, when there is none
    double load_ms = 0;
};

// Opens --device and loads -m/--model (a .gguf file or a Hugging Face folder), quantizing its
// matrices on load with --quant q8_0|q6_k|q4_0. Throws vkml::Error naming what is wrong.
LoadedModel load_model(const Args& args, int64_t max_context = 0);

// The tokenizer of a model: GGUF metadata (tokenizer.ggml.*; `gguf` when the file is already
// open) or tokenizer.json in a Hugging Face folder. nullptr when the model has neither; a file
// vkml cannot read or does not support throws vkml::Error naming it.
std::unique_ptr<models::Tokenizer> open_tokenizer(const std::string& path, const models::GgufFile* gguf = nullptr);

// The prompt as token ids: --tokens "1 2 3", else -p TEXT through the model's tokenizer (with
// its BOS), else `fallback` text. Throws when neither is possible.
std::vector<int32_t> prompt_tokens(const Args& args, const LoadedModel& m);

// "1 2 3" or "1,2,3" -> ids; throws on junk.
std::vector<int32_t> parse_tokens(const std::string& text);

// The model path from -m or --model, or an error naming the flag.
std::string model_path(const Args& args);

}  // namespace vkml::cli
