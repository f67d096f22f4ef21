// A single-page app: /open and /done are client-side routes (the site runs in SPA mode, so a
// reload of /done still answers index.html). Functions are called on the site's own origin.
const list = document.getElementById('todos');
const status = document.getElementById('status');
const filters = { all: () => true, open: (t) => !t.done, done: (t) => t.done };
let todos = [];

function filterName() {
  const name = location.pathname.replace(/^\//, '').replace(/\/$/, '');
  return filters[name] ? name : 'all';
}

async function call(action, params = {}) {
  const response = await fetch(`/api/todo/${action}.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  const body = await response.json();
  if (!response.ok || body.error) throw new Error(body.error || `HTTP ${response.status}`);
  return body.todos;
}

function render() {
  const name = filterName();
  for (const link of document.querySelectorAll('nav a')) {
    link.classList.toggle('current', link.dataset.filter === name);
  }
  list.replaceChildren(
    ...todos.filter(filters[name]).map((todo) => {
      const item = document.createElement('li');
      item.className = todo.done ? 'done' : '';
      item.dataset.id = todo.id;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = todo.done;
      box.addEventListener('change', () => update('toggle', { id: todo.id }));
      const text = document.createElement('span');
      text.textContent = todo.text;
      const remove = document.createElement('button');
      remove.textContent = '×';
      remove.title = 'Remove';
      remove.addEventListener('click', () => update('remove', { id: todo.id }));
      item.append(box, text, remove);
      return item;
    }),
  );
}

async function update(action, params) {
  try {
    todos = await call(action, params);
    status.textContent = '';
    render();
  } catch (e) {
    status.textContent = e.message;
  }
}

document.getElementById('add').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('text');
  await update('add', { text: input.value });
  input.value = '';
});

document.querySelector('nav').addEventListener('click', (event) => {
  const link = event.target.closest('a');
  if (!link) return;
  event.preventDefault();
  history.pushState(null, '', link.getAttribute('href'));
  render();
});
window.addEventListener('popstate', render);

update('list', {});
