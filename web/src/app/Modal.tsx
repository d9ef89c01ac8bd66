import { useEffect, useRef, type ReactNode } from "react";

/** A modal dialog on the native <dialog>: focus trap, Escape and inert background for free. */
export function Modal({
  open,
  onClose,
  title,
  children,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      onClose={onClose}
      aria-labelledby="modal-title"
      className="m-auto w-[min(36rem,95vw)] rounded-lg border border-slate-300 bg-white p-4 text-slate-900 backdrop:bg-black/50 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
    >
      <h2 id="modal-title" className="mb-3 text-lg font-semibold">
        {title}
      </h2>
      {open && children}
    </dialog>
  );
}
