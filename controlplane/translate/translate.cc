// translate(): the whole model -> WDS addresses and authorizations.
#include "controlplane/translate/translate_internal.h"

namespace ambit::controlplane {

Translated translate(const Snapshot& snap, const MeshSettings& mesh) {
  Translated out;
  TranslateContext ctx{snap, mesh, {}};
  translateServices(ctx, out);
  translatePods(ctx, out);  // before authorization: pods decide which PeerAuthentication policies exist
  translateServiceEntryEndpoints(ctx, out);
  translateAuthorization(ctx, out);
  out.routes = translateRoutes(snap, mesh, out.warnings);
  return out;
}

}  // namespace ambit::controlplane
