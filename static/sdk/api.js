/*
 * api.js: the RPC namespaces `tccc.Call`, `tccc.Chat`, `tccc.Video`, `tccc.Agent`.
 *
 * Built from the method names the server injects (PROTOCOL.methods, from sessions_app/domain/protocol.py), so
 * this file names no method. Each method is `(options) => Promise<CommonSDKResponse>` that never rejects.
 */

const RPC_NAMESPACES = ['Call', 'Chat', 'Video', 'Agent'];

/** request(method, params) → Promise that resolves a CommonSDKResponse (the transport's `request`). */
function buildRpcNamespaces(methodNames, request) {
  const namespaces = {};
  for (const namespace of RPC_NAMESPACES) namespaces[namespace] = {};
  for (const fullName of methodNames) {
    const [namespace, name, extra] = String(fullName).split('.');
    if (!namespaces[namespace] || !name || extra !== undefined) {
      console.warn(`tccc: the server lists a method this SDK cannot place: ${fullName}`);
      continue;
    }
    namespaces[namespace][name] = (options) => callSafely(request, fullName, options);
  }
  return namespaces;
}

function callSafely(request, method, options) {
  try {
    return Promise.resolve(request(method, options)).catch((err) => ({ status: 'error', errorMsg: String(err) }));
  } catch (err) {
    return Promise.resolve({ status: 'error', errorMsg: String(err) });
  }
}
