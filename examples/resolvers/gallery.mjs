// A file resolver for seaotter's `files` rules: returns the object keys a row names.
// Here a gallery row `{ id, photo_count, ... }` names `gallery/<id>/<n>.jpg` for each of its photos
// and one cover image. Keys are relative to the store; the rule's `prefix` is put in front.
export default function gallery(row, context) {
  const keys = [`gallery/${row.id}/cover.jpg`];
  for (let n = 1; n <= Number(row.photo_count ?? 0); n++) keys.push(`gallery/${row.id}/${n}.jpg`);
  return keys; // context: { pipeline, table, action: 'insert' | 'update' | 'delete', seq }
}
