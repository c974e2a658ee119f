#pragma once
#include <CLI/CLI.hpp>

namespace nascent {

// `nascent score SPACE ARCH --metric NAME[,NAME...]`: training-free predictor scores of one
// architecture on one Fashion-MNIST (or synthetic) batch.
void add_score_command(CLI::App& app, const std::vector<std::string>& plugins);

}  // namespace nascent
