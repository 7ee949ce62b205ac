// dpo_test_reseal FILE...: seals prepared files again after a test edited them on purpose (with
// h5py or the HDF5 C API), as if dpo had written the edited file. The hostile corpus uses it so
// that a lying dataset reaches the checks behind the seal (dataloader/prepared_seal.h) instead
// of being refused by the seal itself. Not installed; tests only.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "dataloader/prepared_seal.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dpo_test_reseal FILE...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "dpo_test_reseal: cannot read '%s'\n", argv[i]);
      return 2;
    }
    if (!dpo::seal_prepared_image(image)) {
      std::fprintf(stderr, "dpo_test_reseal: '%s' has no user block to seal\n", argv[i]);
      return 2;
    }
    std::ofstream out(argv[i], std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    if (!out) {
      std::fprintf(stderr, "dpo_test_reseal: cannot write '%s'\n", argv[i]);
      return 2;
    }
  }
  return 0;
}
