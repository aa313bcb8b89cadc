/** `tally admin sca enable|disable|status`: the backend's SCA switch, set in the store (also PUT /api/v1/settings/sca). */
import { Command } from 'commander';
import { storeOptions, withStore, type StoreFlags } from './token.js';

/** Sets the switch (true/false) or reads it (undefined), then prints it. */
function scaAction(enable: boolean | undefined) {
  return async (flags: StoreFlags): Promise<void> => {
    const { getSca, setSca } = await import('@tally/server');
    const setting = await withStore(flags, (store) => (enable === undefined ? getSca(store.read) : setSca(store.db, enable)));
    process.stdout.write(`SCA is ${setting.enabled ? 'enabled' : 'disabled'}\n`);
  };
}

export function adminCommand(): Command {
  const admin = new Command('admin').description('backend administration');
  const sca = admin.command('sca').description('the SCA switch: when disabled the backend keeps only Static/Dynamic results and tells sensors so');
  storeOptions(sca.command('enable').description('accept SCA results')).action(scaAction(true));
  storeOptions(sca.command('disable').description('drop SCA results from uploads')).action(scaAction(false));
  storeOptions(sca.command('status').description('show the switch')).action(scaAction(undefined));
  return admin;
}
