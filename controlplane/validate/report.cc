#include "controlplane/validate/report.h"

#include <ostream>

#include "controlplane/source/file_source.h"
#include "controlplane/translate/translate.h"

namespace ambit::controlplane {

int printValidation(const std::string& dir, std::ostream& out, std::ostream& err) {
  auto report = validateDirectory(dir);
  for (const auto& w : report.warnings) err << "warning: " << w << "\n";
  // What translation would report (a route to an unknown subset, a policy
  // narrowed for ztunnel, ...): warnings, since the config still applies.
  if (report.snapshot) {
    auto translated = translate(*report.snapshot, MeshSettings{});
    for (const auto& w : translated.warnings) err << "warning: " << w << "\n";
  }
  for (const auto& i : report.issues) err << "error: " << i.toString() << "\n";
  if (!report.issues.empty()) {
    err << report.issues.size() << " error(s) in " << dir << "\n";
    return 1;
  }
  out << dir << ": " << report.files << " file(s), " << report.objects << " object(s), valid\n";
  return 0;
}

}  // namespace ambit::controlplane
