// Every public header of kaon, compiled as C++: the headers must be
// extern "C"-clean and valid C++ (Photon's users write C++). test_install.sh
// fails when a header is installed that this file does not include.
#include <kaon/bif.h>
#include <kaon/co.h>
#include <kaon/config.h>
#include <kaon/dpdk.h>
#include <kaon/engine.h>
#include <kaon/io.h>
#include <kaon/net.h>
#include <kaon/net_dev.h>
#include <kaon/net_drop.h>
#include <kaon/net_loop.h>
#include <kaon/ref.h>
#include <kaon/sock.h>
#include <kaon/sync.h>
#include <kaon/user.h>

// Taking the address of a function checks its linkage: a C++ mangled name
// would not be found in libkaon at link time.
int main()
{
	void (*init)(kaon_vcpu_opts *) = kaon_vcpu_opts_init;
	const char *(*drop)(enum kn_drop_reason) = kn_drop_name;
	kaon_vcpu_opts vo;
	init(&vo);
	return drop(KN_DROP_NONE) == nullptr || vo.cpu != -1;
}
