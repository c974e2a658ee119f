#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace nascent {

// `nascent train CONFIG --arch ARCH` or `nascent train --db DB --eval RUN:SEQ`: final training of
// one architecture as a run of its own (curves, metrics, weights, resume). A training stopped by
// Ctrl-C sets `exit_status` to 130.
void add_train_command(CLI::App& app, const std::vector<std::string>& plugins, int& exit_status);

// `nascent export SPACE ARCH [--weights FILE] --out model.pt` or
// `nascent export --db DB --eval RUN:SEQ --out model.pt`: a TorchScript file of the architecture.
void add_export_command(CLI::App& app, const std::vector<std::string>& plugins);

}  // namespace nascent
