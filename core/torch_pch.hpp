// Precompiled header: LibTorch dominates compile time (~30 s per translation unit without it).
#pragma once
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>
#include <map>
#include <memory>
#include <string>
#include <vector>
